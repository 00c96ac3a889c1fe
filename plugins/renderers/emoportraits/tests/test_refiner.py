"""The stage-2 refiner against the authors' own module definitions (manifest and reference output made in a
scratch environment from github:neeek2303/EMOPortraits, see tests/data/README.md)."""

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from emoavatar.errors import ConfigError, WeightsNotFoundError
from emoavatar_emoportraits.deterministic import write_random_refiner
from emoavatar_emoportraits.refiner import Refiner, RefinerConfig, load_refiner

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def manifest():
    with gzip.open(DATA / "manifest_refiner.json.gz", "rt") as f:
        return json.load(f)["variants"]


@pytest.fixture(scope="module")
def tiny_refiner_architecture():
    return json.loads((DATA / "refiner_tiny_config.json").read_text())


def _shapes(cfg):
    with torch.device("meta"):
        return {k: list(v.shape) for k, v in Refiner(cfg).state_dict().items()}


@pytest.mark.parametrize("norm", ["gn", "bn"])
def test_layout_matches_authors_manifest(manifest, tiny_refiner_architecture, norm):
    released = _shapes(RefinerConfig(norm=norm))
    assert released == manifest[f"{norm}_released"]["keys"]
    assert list(released) == list(manifest[f"{norm}_released"]["keys"])  # same order as their state_dict
    assert _shapes(RefinerConfig(norm=norm, **tiny_refiner_architecture)) == manifest[f"{norm}_tiny"]["keys"]
    if norm == "gn":  # 187 keys, 55.5M numbers; weight-standardised convs after group norms, spectral norm elsewhere
        assert len(released) == 187
        assert sum(int(np.prod(s)) for s in released.values()) == 55_529_142
        assert released["decoder.img_decoder.dec_img_head.2.bias"] == [3]
        assert "decoder.res_decoder.0.weight_orig" in released and "pose_unsqueeze.weight" in released
    else:
        assert released["local_encoder.finale_layers.0.running_var"] == [512]


@pytest.mark.parametrize("norm", ["gn", "bn"])
def test_parity_with_reference_output(tmp_path, tiny_refiner_architecture, norm):
    """Name-keyed weights saved in the released format, loaded through our loader: the refined image matches
    the authors' forward pass within max |diff| 1e-3 (measured 2.5e-4: the reference is stored as float16),
    and the pre-tanh logits of the gn model within 2e-4 (measured 2.6e-5; logits std 3.2)."""
    from reference_inputs import reference_images, reference_masks

    ref = np.load(DATA / "refiner_reference.npz")
    path = write_random_refiner(tmp_path / "s2_model.pth", {**tiny_refiner_architecture, "norm": norm})
    model = load_refiner(path, RefinerConfig(norm=norm, **tiny_refiner_architecture))
    logits = []
    model.decoder.img_decoder.dec_img_head[2].register_forward_hook(lambda m, i, o: logits.append(o))
    matte, face = reference_masks(64)
    src = reference_images(48)[1]
    with torch.no_grad():
        out = model(src, matte, face)[0].numpy()
        plain = model(src)[0].numpy()
    expected = ref[f"refined_{norm}"].astype(np.float32)
    assert np.abs(out - expected).max() < 1e-3
    if norm == "gn":
        assert np.abs(logits[0][0].numpy() - ref["logits_gn"]).max() < 2e-4
    assert np.abs(plain - out).mean() > 1e-3  # the masks matter: unmasked refinement differs


def test_norm_is_read_from_the_file(tmp_path, tiny_refiner_architecture):
    path = write_random_refiner(tmp_path / "bn.pth", {**tiny_refiner_architecture, "norm": "bn"})
    sd = torch.load(path, weights_only=True)
    from emoavatar_emoportraits.refiner import detect_norm

    assert detect_norm(sd) == "bn"
    assert load_refiner(path, tiny_refiner_architecture).cfg.norm == "bn"  # sizes given, norm from the file
    with pytest.raises(WeightsNotFoundError, match="stage-2 refiner layout"):  # bn file, gn model
        load_refiner(path, RefinerConfig(norm="gn", **tiny_refiner_architecture))


def test_missing_refiner_names_file_source_and_licence(tmp_path):
    with pytest.raises(WeightsNotFoundError) as e:
        load_refiner(tmp_path / "042_model.pth")
    msg = str(e.value)
    assert "042_model.pth" in msg and "logs_s2.zip" in msg and "CC BY-NC-SA 4.0" in msg


@pytest.mark.slow
def test_renderer_runs_stage_1_then_refiner(tiny_checkpoint, tiny_architecture, tiny_refiner_architecture, kit_portrait,
                                            tmp_path):
    from emoavatar.registry import get_registry
    from emoavatar.types import Motion

    path = write_random_refiner(tmp_path / "s2.pth", tiny_refiner_architecture)
    opts = {"checkpoint": tiny_checkpoint[0], "head_pose_checkpoint": tiny_checkpoint[1], "architecture": tiny_architecture}
    r = get_registry().create("renderers", "emoportraits", {**opts, "refiner": path,
                                                          "refiner_architecture": tiny_refiner_architecture})
    r.prepare(kit_portrait, None)
    z, srt = r.source["z"], r.source["srt"]
    motion = Motion("emoportraits", {"emoportraits": z.numpy(), "head_pose": srt.numpy()}, 25.0)
    out = r.render(motion, None)
    assert out.shape == (1, 64, 64, 3)
    with torch.no_grad():  # exactly stage 1's frame through the refiner
        stage1 = r.model.drive(r.source, z, srt)
        refined = r.refiner(stage1)
    to_img = lambda t: (t[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)  # noqa: E731
    assert np.abs(out[0].astype(int) - to_img(refined)).max() <= 1
    assert np.abs(out[0].astype(float) - to_img(stage1)).mean() > 1.0  # and the refiner changed it
    missing = get_registry().create("renderers", "emoportraits", {**opts, "refiner": tmp_path / "nope.pth"})
    with pytest.raises(WeightsNotFoundError, match="logs_s2.zip"):
        missing.prepare(kit_portrait, None)
    bad = get_registry().create("renderers", "emoportraits", {**opts, "refiner": path, "refiner_architecture": {"norm": "in"}})
    with pytest.raises(ConfigError, match="norm must be gn or bn"):
        bad.prepare(kit_portrait, None)
