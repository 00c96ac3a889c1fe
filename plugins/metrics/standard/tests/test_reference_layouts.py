"""Every published-weights loader of this plugin against its reference implementation.

``data/*.json`` (except ``reference_outputs.json``) are key/shape manifests dumped from the
reference modules themselves (syncnet_python's ``S``, pytorch-fid's ``fid_inception_v3``,
insightface arcface_torch's ``iresnet``; see each file's ``reference``). For each loader we
compare our network's keys and shapes with the manifest, write a file laid out like the published
one with the deterministic weights of :mod:`emoavatar.testing.checkpoints`, load it through the
documented loading path and compare outputs with what the reference module computed on the same
weights and the closed-form inputs below (``reference_outputs.json``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from emoavatar.errors import WeightsNotFoundError
from emoavatar.testing.checkpoints import assert_matches_manifest, deterministic_state, read_manifest

DATA = Path(__file__).parent / "data"
REF = json.loads((DATA / "reference_outputs.json").read_text())


def image(n: int, c: int, h: int, w: int):
    """Closed-form test image batch in [0, 255]: 127.5 + 127.5 sin(0.07 h (c + 1) + 0.05 w + n)."""
    import torch

    ni, ci, hi, wi = torch.meshgrid(*(torch.arange(s, dtype=torch.float64) for s in (n, c, h, w)), indexing="ij")
    return (127.5 + 127.5 * torch.sin(0.07 * hi * (ci + 1) + 0.05 * wi + ni)).float()


def rel_err(ours, ref) -> float:
    ours, ref = np.asarray(ours, np.float64).ravel(), np.asarray(ref, np.float64).ravel()
    return float(np.linalg.norm(ours - ref) / np.linalg.norm(ref))


def on_meta(build, *args):
    import torch

    with torch.device("meta"):
        return build(*args)


def save_published(tmp_path: Path, name: str, manifest: str, legacy: bool = False) -> Path:
    """A plain ``torch.save`` of the manifest's keys: the layout of all three published files
    (``legacy``: the pre-1.6 non-zip serialization of older releases such as syncnet_v2.model)."""
    import torch

    path = tmp_path / name
    torch.save(deterministic_state(read_manifest(DATA / manifest)), path, _use_new_zipfile_serialization=not legacy)
    return path


# -- SyncNet (syncnet_python data/syncnet_v2.model) ---------------------------------------
def test_syncnet_manifest_load_and_parity(tmp_path):
    import torch
    from emoavatar_metrics.syncnet import build_syncnet, load_syncnet

    assert_matches_manifest(on_meta(build_syncnet), read_manifest(DATA / "syncnet_v2.json"))
    net = load_syncnet(save_published(tmp_path, "syncnet_v2.model", "syncnet_v2.json", legacy=True))
    i, j = torch.meshgrid(torch.arange(13.0), torch.arange(20.0), indexing="ij")
    aud = (10 * torch.sin(0.3 * i + 0.2 * j)).reshape(1, 1, 13, 20)
    lip = image(5, 3, 224, 224).permute(1, 0, 2, 3).unsqueeze(0)  # frame index as n
    with torch.inference_mode():
        a, v = net.forward_aud(aud), net.forward_lip(lip)
    assert rel_err(a, REF["syncnet"]["aud"]) < 1e-4
    assert rel_err(v, REF["syncnet"]["lip"]) < 1e-4


# -- FID Inception (pytorch-fid pt_inception-2015-12-05-6726825d.pth) ------------------------
def test_fid_inception_manifest_load_and_parity(tmp_path):
    import torch
    from emoavatar_metrics.inception import EXPECTED_FILE, build_inception, load_inception

    assert_matches_manifest(on_meta(build_inception, 1.0), read_manifest(DATA / "pt_inception-2015-12-05.json"))
    net = load_inception(save_published(tmp_path, EXPECTED_FILE, "pt_inception-2015-12-05.json"))
    with torch.inference_mode():
        pool = net(image(1, 3, 64, 80))  # ours takes 0-255; the reference was fed x / 255
    assert pool.shape == (1, 2048)
    assert rel_err(pool, REF["fid_inception"]["pool"]) < 1e-4


def test_unreadable_checkpoints_are_one_line_errors(tmp_path):
    from emoavatar_metrics.inception import load_inception
    from emoavatar_metrics.syncnet import load_syncnet

    junk = tmp_path / "junk.model"
    junk.write_bytes(b"<html>not found</html>")  # e.g. a failed download
    for load, what in ((load_syncnet, "SyncNet"), (load_inception, "FID Inception")):
        with pytest.raises(WeightsNotFoundError, match=f"not an? {what} checkpoint readable with weights_only") as e:
            load(junk)
        assert "\n" not in str(e.value)


# -- ArcFace (insightface arcface_torch backbone.pth; ONNX graphs) --------------------------
@pytest.mark.parametrize("tag, layers", [("r18", (2, 2, 2, 2)), ("r50", (3, 4, 14, 3)), ("r100", (3, 13, 30, 3))])
def test_iresnet_matches_arcface_torch_manifest(tag, layers):
    from emoavatar_metrics.arcface import build_iresnet, iresnet_layers

    manifest = read_manifest(DATA / f"arcface_torch_{tag}.json")
    assert iresnet_layers(manifest) == layers
    assert_matches_manifest(on_meta(build_iresnet, layers), manifest)


def test_arcface_torch_backbone_loads_and_matches(tmp_path):
    import torch
    from emoavatar_metrics.identity import ArcFaceEmbedder

    path = save_published(tmp_path, "backbone.pth", "arcface_torch_r18.json")
    crops = image(2, 3, 112, 112).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    emb = ArcFaceEmbedder(str(path))(crops)
    assert emb.shape == (2, 512)
    # the reference saw the unrounded floats; rounding to uint8 moves the input by < 0.5 grey levels
    assert rel_err(emb, REF["arcface_r18"]["embedding"]) < 2e-2
    from emoavatar_metrics.arcface import load_arcface_torch

    with torch.inference_mode():
        exact = load_arcface_torch(path)((image(2, 3, 112, 112) - 127.5) / 127.5)
    assert rel_err(exact, REF["arcface_r18"]["embedding"]) < 1e-4


def test_arcface_other_checkpoints_are_one_line_errors(tmp_path):
    import torch
    from emoavatar_metrics.identity import ArcFaceEmbedder

    crop = np.zeros((1, 112, 112, 3), np.uint8)
    torch.save({"features.0.weight": torch.zeros(3)}, tmp_path / "mbf.pth")  # e.g. a mobilefacenet
    with pytest.raises(WeightsNotFoundError, match="not an arcface_torch IResNet") as e:
        ArcFaceEmbedder(str(tmp_path / "mbf.pth"))(crop)
    assert "\n" not in str(e.value)
    sd = deterministic_state(read_manifest(DATA / "arcface_torch_r18.json"))
    sd["fc.weight"] = torch.zeros(512, 100)  # right keys, wrong shape
    torch.save(sd, tmp_path / "bad.pth")
    with pytest.raises(WeightsNotFoundError, match="is not an arcface_torch IResNet"):
        ArcFaceEmbedder(str(tmp_path / "bad.pth"))(crop)
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsNotFoundError, match="weights_only"):
        ArcFaceEmbedder(str(tmp_path / "junk.pth"))(crop)
    (tmp_path / "junk.pt2").write_bytes(b"not an export archive")
    with pytest.raises(WeightsNotFoundError, match="cannot load ArcFace model"):
        ArcFaceEmbedder(str(tmp_path / "junk.pt2"))(crop)


def _pb(field: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (enough to write an ONNX graph's node list)."""
    def varint(v: int) -> bytes:
        out = b""
        while v >= 0x80:
            out, v = out + bytes([v & 0x7F | 0x80]), v >> 7
        return out + bytes([v])
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def onnx_bytes(nodes: list[tuple[str, str, str, str]]) -> bytes:
    """ModelProto{ir_version=7, graph=GraphProto{node*, name, input "data"}} with (name, op_type, input, output) nodes."""
    graph = b"".join(_pb(1, _pb(1, i.encode()) + _pb(2, o.encode()) + _pb(3, n.encode()) + _pb(4, op.encode()))
                     for n, op, i, o in nodes)
    return b"\x08\x07" + _pb(7, graph + _pb(2, b"g") + _pb(11, _pb(1, b"data")))


def test_onnx_graph_normalisation_is_detected(tmp_path):
    from emoavatar_metrics.arcface import onnx_graph, onnx_normalises_input
    from emoavatar_metrics.identity import ArcFaceEmbedder

    def model(name: str, nodes) -> Path:
        (tmp_path / name).write_bytes(onnx_bytes(nodes))
        return tmp_path / name

    # insightface's MXNet conversions start _minus / _mul (its own rule: within the first 8 nodes)
    mxnet = model("mxnet.onnx", [("_minus0", "Sub", "data", "a"), ("_mul0", "Mul", "a", "b"), ("conv0", "Conv", "b", "c")])
    # torch exports start with dozens of Identity nodes; the normalisation comes later but first touches the input
    consts = [(f"Identity_{i}", "Identity", f"w{i}", f"v{i}") for i in range(40)]
    torch_norm = model("torch_norm.onnx", consts + [("Sub_40", "Sub", "data", "a"), ("Mul_41", "Mul", "a", "b"),
                                                     ("Conv_42", "Conv", "b", "c")])
    cast_norm = model("cast_norm.onnx", consts + [("Cast_40", "Cast", "data", "f"), ("Div_41", "Div", "f", "a")])
    plain = model("plain.onnx", consts + [("Conv_40", "Conv", "data", "a"), ("Sub_41", "Sub", "a", "b"),
                                          ("Mul_42", "Mul", "b", "c")])  # arithmetic after the first conv only
    assert onnx_graph(mxnet) == ([("_minus0", "Sub", ["data"], ["a"]), ("_mul0", "Mul", ["a"], ["b"]),
                                  ("conv0", "Conv", ["b"], ["c"])], ["data"])
    assert [onnx_normalises_input(p) for p in (mxnet, torch_norm, cast_norm, plain)] == [True, True, True, False]
    crops = np.full((1, 112, 112, 3), 255, np.uint8)
    for path, scaling, first in ((mxnet, "auto", 255.0), (plain, "auto", 1.0), (mxnet, "normalized", 1.0),
                                 (plain, "raw", 255.0)):
        emb = ArcFaceEmbedder(str(path), scaling)
        emb._run = lambda x: x.reshape(len(x), -1)[:, :4]  # what reaches the graph
        assert emb(crops)[0, 0] == pytest.approx(first)
