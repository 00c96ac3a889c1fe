"""The `nerf` renderer: checkpoint I/O, contract, missing weights, spec lightness, losses."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from emoavatar.errors import WeightsNotFoundError
from emoavatar.types import Face, Motion, Portrait
from emoavatar_nerf.checkpoint import load_bundle, new_bundle, save_bundle
from emoavatar_nerf.losses import (
    IDENTITY_POINTS,
    ClipEmotionLoss,
    ShapeConsistency,
    identity_points,
    load_clip_loss,
    photometric_loss,
    refine_active,
)
from emoavatar_nerf.model import NerfModelConfig
from emoavatar_nerf.render import CameraConfig, render_image
from emoavatar_nerf.renderer import NerfRenderer
from emoavatar_nerf.spec import NERF_SPEC, NerfRendererConfig
from pydantic import ValidationError

torch.set_num_threads(1)
TINY = dict(n_levels=4, log2_table_size=10, base_resolution=4, finest_resolution=32, hidden=16, color_hidden=16,
            init_density_bias=0.5)
H = W = 24
POSE = [0.0, 0.1, 0.05, 11.5, 12.0, 2.5]  # head box (±3 units) spans ~±8 px


def tiny_checkpoint(path, seed=0):
    torch.manual_seed(seed)
    plate = torch.rand(H, W, 3)
    b = new_bundle(NerfModelConfig(**TINY), CameraConfig(focal=3.0), plate, occupancy_resolution=8,
                   meta={"default_pose": POSE, "pose_resolution": [H, W]})
    save_bundle(b, path)
    return b


def tiny_motion(n=5, seed=0):
    rng = np.random.default_rng(seed)
    pose = np.tile(np.asarray(POSE, np.float32), (n, 1))
    return Motion("exp3dmm10", {"exp3dmm10": rng.normal(size=(n, 10)).astype(np.float32), "pose": pose}, 25.0)


def portrait(h=H, w=W):
    img = np.full((h, w, 3), 90, np.uint8)
    return Portrait(img, Face((2, 2, w - 2, h - 2), np.zeros((68, 2), np.float32)))


def test_checkpoint_round_trip_renders_identically(tmp_path):
    b = tiny_checkpoint(tmp_path / "ck")
    b.occupancy.update(b.model, torch.zeros(1, 10))
    save_bundle(b, tmp_path / "ck")
    loaded = load_bundle(tmp_path / "ck" / "nerf.safetensors")
    assert loaded.meta["default_pose"] == POSE and loaded.resolution == (H, W)
    a = torch.randn(10)
    pose = torch.tensor(POSE)
    with torch.no_grad():
        img1, acc1 = render_image(b.model, b.camera, pose, a, b.plate, 16, b.occupancy)
        img2, acc2 = render_image(loaded.model, loaded.camera, pose, a, loaded.plate, 16, loaded.occupancy)
    assert torch.equal(img1, img2) and torch.equal(acc1, acc2)
    assert acc1.max() > 0.1  # the head box is visible and opaque somewhere
    assert acc1[0, 0] == 0  # a corner ray misses the head box: plate only
    assert torch.allclose(img1[0, 0], b.plate[0, 0])


def test_renderer_contract(tmp_path):
    from emoavatar.testing.contracts import check_renderer

    tiny_checkpoint(tmp_path / "ck")
    r = NERF_SPEC.build({"checkpoint": str(tmp_path / "ck"), "device": "cpu", "n_samples": 8})
    assert isinstance(r, NerfRenderer)
    frames = check_renderer(r, portrait(), tiny_motion())
    assert frames.shape == (5, H, W, 3)
    assert frames.std(axis=(1, 2, 3)).min() > 0  # not blank


def test_renderer_resolution_pose_and_background_options(tmp_path):
    from emoavatar.interfaces import RunContext

    tiny_checkpoint(tmp_path / "ck")
    ctx = RunContext()
    motion = tiny_motion(2)
    base = {"checkpoint": str(tmp_path / "ck"), "device": "cpu", "n_samples": 8}
    r = NerfRenderer(NerfRendererConfig(**base, resolution=48))
    r.prepare(portrait(), ctx)
    big = r.render(motion, ctx)
    assert big.shape == (2, 48, 48, 3)
    r1 = NerfRenderer(NerfRendererConfig(**base, pose_source="checkpoint", background="portrait"))
    r1.prepare(portrait(), ctx)
    f1 = r1.render(Motion("exp3dmm10", {"exp3dmm10": motion.tracks["exp3dmm10"]}, 25.0), ctx)
    assert (f1[:, 0, 0] == 90).all()  # portrait plate outside the head
    r2 = NerfRenderer(NerfRendererConfig(**base))
    r2.prepare(portrait(), ctx)
    moved = motion.tracks["pose"].copy()
    moved[:, 3] += 5
    shifted = r2.render(Motion("exp3dmm10", {"exp3dmm10": motion.tracks["exp3dmm10"], "pose": moved}, 25.0), ctx)
    assert not np.array_equal(shifted, r2.render(motion, ctx))  # the head follows the pose


def test_missing_checkpoint_names_the_file(tmp_path):
    from emoavatar.interfaces import RunContext

    r = NerfRenderer(NerfRendererConfig(checkpoint=str(tmp_path / "nowhere"), device="cpu"))
    with pytest.raises(WeightsNotFoundError, match="nerf.safetensors"):
        r.prepare(portrait(), RunContext())
    tiny_checkpoint(tmp_path / "ck")
    (tmp_path / "ck" / "nerf.json").unlink()
    with pytest.raises(WeightsNotFoundError, match="nerf.json"):
        load_bundle(tmp_path / "ck")
    with pytest.raises(WeightsNotFoundError, match="checkpoint"):
        NerfRenderer(NerfRendererConfig()).prepare(portrait(), RunContext())


def test_spec_is_light_and_strict():
    code = ("import sys, emoavatar_nerf.spec as s; "
            "assert 'torch' not in sys.modules, 'spec imported torch'; print(s.NERF_SPEC.consumes)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "motion:exp3dmm10" in out.stdout
    assert NERF_SPEC.name == "nerf" and NERF_SPEC.kind == "renderers" and NERF_SPEC.produces == ("frames",)
    with pytest.raises(ValidationError):
        NerfRendererConfig(bogus=1)
    with pytest.raises(ValidationError):
        NerfRendererConfig(device="gpu0")


# -- losses (eq. 15-16) ----------------------------------------------------------------------
def test_photometric_and_schedule():
    assert float(photometric_loss(torch.ones(4, 3), torch.zeros(4, 3))) == 1.0
    assert not refine_active(99, 200) and refine_active(100, 200)


def test_shape_consistency_pulls_to_reference(tmp_path):
    b = tiny_checkpoint(tmp_path / "ck")
    lm = torch.rand(68, 2) * torch.tensor([W - 1.0, H - 1.0])
    lm[IDENTITY_POINTS] = torch.tensor([11.0, 12.0]) + torch.randn(len(IDENTITY_POINTS), 2)
    pts = identity_points(b.model, b.camera, torch.tensor(POSE), torch.zeros(10), lm, H, W, 16)
    assert pts.shape == (len(IDENTITY_POINTS), 3) and pts.requires_grad
    shape = ShapeConsistency(momentum=0.5)
    assert float(shape(pts).detach()) == 0.0  # the first frame defines β_id
    moved = pts + torch.tensor([0.0, 0.0, 1.0])
    assert abs(float(shape(moved).detach()) - 1.0) < 1e-5
    loss = shape(identity_points(b.model, b.camera, torch.tensor(POSE), torch.ones(10), lm, H, W, 16))
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in b.model.parameters())


def test_clip_emotion_loss_with_tiny_random_clip(tmp_path):
    pytest.importorskip("transformers")  # the optional `clip` extra
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    cfg = CLIPConfig(text_config=dict(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                      num_attention_heads=2, max_position_embeddings=32, bos_token_id=48,
                                      eos_token_id=49, pad_token_id=0),
                     vision_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                        num_attention_heads=2, image_size=32, patch_size=16),
                     projection_dim=8)
    model = CLIPModel(cfg)

    def tokenizer(texts, padding=True, return_tensors="pt"):
        ids = [[48] + [ord(c) % 47 + 1 for c in t][:24] + [49] for t in texts]  # bos ... eos
        return {"input_ids": torch.tensor(ids), "attention_mask": torch.ones(len(ids), len(ids[0]), dtype=torch.long)}

    loss_fn = ClipEmotionLoss(model, tokenizer)
    img = torch.rand(1, 3, 20, 20, requires_grad=True)
    happy, sad = loss_fn(img, "happy"), loss_fn(img, "sad")
    assert -1.0 <= float(happy.detach()) <= 1.0 and float(happy.detach()) != float(sad.detach())
    happy.backward()
    assert img.grad is not None and img.grad.abs().sum() > 0
    assert all(not p.requires_grad for p in loss_fn.clip.parameters())  # CLIP stays frozen
    assert load_clip_loss(None) is None
    with pytest.raises(WeightsNotFoundError, match="CLIP"):
        load_clip_loss(str(tmp_path / "no_clip"))
