"""MoEE's two training stages at the tiny config on clips the default pipeline renders (conftest.kit_clips),
then the trained renderer end to end through a pipeline."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from emoavatar.cli import main as cli

STAGE1 = {"size": "tiny", "vae": "tiny", "vae_steps": 300, "iterations": 450, "lr": 2e-3, "lr_schedule": "cosine",
          "warmup": 20, "clip_frames": 4, "motion_frames": 2, "motion_dropout": 0.3, "holdout": 6, "eval_steps": 1,
          "checkpoint_every": 0, "log_every": 50, "threads": 1, "crop_scale": 1.6}  # conftest.CROP
# the loss is the trainer's default, Hallo's (min-SNR weight, offset noise, scaled-linear training betas, shared init);
# on the 6.4 s clips (conftest.SPEECH_FRAMES) and with 450 steps it beats the mean frame by >= 1.39 dB on seeds 0-3 and the
# last frame by >= 1 dB on seeds 0, 2, 3 (seed 1: -0.22 dB; README)

#: stage 2 keeps the plain v-MSE on linear betas it was measured with (README)
PLAIN_LOSS = {"snr_gamma": 0.0, "noise_offset": 0.0, "train_betas": "linear"}


#: stage 2 with the paired-emotion loss (pairs.py; the two clips share their audio): 50 steps of both clips, the
#: compute of the 100 one-clip steps it replaced
STAGE2_STEPS, STAGE2_LR, STAGE2_EVAL_STEPS, STAGE2_PAIRED = 50, 1e-2, 1, 3.0


def _write(path, cfg: dict):
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="session")
def stage1(kit_clips, kit_clip_crop, tmp_path_factory):
    assert STAGE1["crop_scale"] == kit_clip_crop
    work = tmp_path_factory.mktemp("moee_stage1")
    cfg = _write(work / "stage1.yaml", {**STAGE1, "data": [str(p) for p in kit_clips.values()], "output": str(work / "s1")})
    assert cli(["train", "moee-stage1", str(cfg)]) == 0
    return work / "s1"


@pytest.mark.slow
def test_stage1_generates_held_out_frames_better_than_the_baselines(stage1):
    """Held-out frames (the last 6 per clip, never trained on, nor seen by the tiny VAE) generated as the renderer
    generates a video: in windows of ``clip_frames`` from the reference image, the audio features, the face-locator
    masks drawn from each frame's tracked landmarks and motion frames (the two real frames before them, then the last
    generated ones); against uniform noise, the mean training frame, a copy of the reference image and a copy of the
    last frame before them. README states the numbers and the diagnosis."""
    m = json.loads((stage1 / "metrics.json").read_text())
    print("stage 1 held-out PSNR", m)
    assert m["step"] == STAGE1["iterations"] and m["loss_last"] < m["loss_first"] / 3
    assert m["mean_frame_psnr"] < 27.0  # the clips move: the mean frame is a real baseline (34 dB on still clips)
    assert m["holdout_psnr"] > m["noise_psnr"] + 15.0
    # measured (README): 25.82 dB vs 23.14 mean frame, 24.75 last frame, 22.38 reference; mouth box 24.72 vs 20.32.
    # Issue 9's "clearly better than a noise/mean baseline": >= 1 dB above the mean training frame on seeds 0-3 (+2.65 /
    # +1.39 / +2.98 / +3.33 dB); the stricter last-frame copy is beaten by >= 1 dB only on seeds 0, 2, 3 (+1.03 / -0.22 /
    # +1.37 / +1.72 dB, before the fused AdamW; seed 0 now +1.07): asserted is what this seed shows, less a safety margin
    assert m["holdout_psnr"] >= m["mean_frame_psnr"] + 1.0 and m["holdout_psnr"] > m["last_frame_psnr"] + 0.5
    assert m["holdout_psnr"] > m["reference_psnr"] + 0.6 and m["mouth_psnr"] > m["mouth_mean_frame_psnr"] + 0.6


@pytest.mark.slow
def test_stage1_resumes_from_its_train_state(stage1, kit_clips, tmp_path):
    import shutil

    out = tmp_path / "s1"
    shutil.copytree(stage1, out)
    cfg = _write(tmp_path / "r.yaml", {**STAGE1, "holdout": 0, "data": [str(p) for p in kit_clips.values()],
                                       "output": str(out)})
    assert cli(["train", "moee-stage1", str(cfg), "--resume", "--iterations", str(STAGE1["iterations"] + 3)]) == 0
    assert json.loads((out / "metrics.json").read_text())["step"] == STAGE1["iterations"] + 3
    assert json.loads((out / "moee.json").read_text())["step"] == STAGE1["iterations"] + 3


@pytest.fixture(scope="session")
def stage2(stage1, kit_clips, tmp_path_factory):
    work = tmp_path_factory.mktemp("moee_stage2")
    cfg = _write(work / "stage2.yaml", {**STAGE1, **PLAIN_LOSS, "init": str(stage1), "iterations": STAGE2_STEPS, "lr": STAGE2_LR,
                                        "motion_dropout": 1.0, "paired": STAGE2_PAIRED,
                                        "data": [str(p) for p in kit_clips.values()], "output": str(work / "s2")})
    assert cli(["train", "moee-stage2", str(cfg)]) == 0
    return work / "s2"


def pixel_proxy(frames: np.ndarray, happy: np.ndarray, surprised: np.ndarray, lm: np.ndarray) -> float:
    """mean |x - surprised frames| - mean |x - happy frames| over the mouth and brow boxes (> 0: happier), grey levels."""
    from emoavatar_diffusion.face import box_mask

    m = np.clip(box_mask(lm[48:68], frames.shape[1], 0.4) + box_mask(lm[17:27], frames.shape[1], 0.4), 0, 1)[None, :, :, None]
    x = frames.astype(np.float32)
    d_s, d_h = np.abs(x - surprised.astype(np.float32)) * m, np.abs(x - happy.astype(np.float32)) * m
    return float((d_s.sum() - d_h.sum()) / (m.sum() * len(x) * 3))


UP = 256  # the 32 px crops are upsampled 8x for the face analyzer and the tracker


def reference_landmarks(ref_image: np.ndarray, lm01: np.ndarray) -> np.ndarray:
    """The face analyzer's (dlib) 68 landmarks of the reference crop upsampled to UP px, fitted in the box of the
    clip's landmarks (a 32 px face is below dlib's detector size, so the box is given, as when tracking)."""
    import cv2
    from emoavatar_dlib.analyzer import DlibFaceAnalyzer

    lo, hi = lm01.min(0) * UP, lm01.max(0) * UP
    return DlibFaceAnalyzer().fit(cv2.resize(ref_image, (UP, UP), interpolation=cv2.INTER_CUBIC),
                                  (lo[0], lo[1], hi[0], hi[1])).landmarks


def tracked_au_proxies(frames: np.ndarray, ref_image: np.ndarray, ref_lm: np.ndarray) -> dict:
    """The ``au`` metric's proxies (AU1/AU2 brows, AU12 lip corners; inter-ocular units vs the reference) of landmarks
    tracked from the reference's into every frame (pyramidal Lucas-Kanade on the UP px upsampled crops). Fitting
    dlib afresh on each frame is not used: on the blurry generated crops its fit barely follows the brows (README)."""
    import cv2
    from emoavatar_metrics.au import au_tracks

    def grey(img):
        return cv2.cvtColor(cv2.resize(img, (UP, UP), interpolation=cv2.INTER_CUBIC), cv2.COLOR_RGB2GRAY)

    g0, p0 = grey(ref_image), np.asarray(ref_lm, np.float32).reshape(-1, 1, 2)
    lms = np.stack([cv2.calcOpticalFlowPyrLK(g0, grey(f), p0, None, winSize=(31, 31), maxLevel=3)[0].reshape(-1, 2)
                    for f in frames])
    au = au_tracks(lms, ref_lm)
    return {"AU1": float(au["AU1"].mean()), "AU2": float(au["AU2"].mean()),
            "brows": float(((au["AU1"] + au["AU2"]) / 2).mean()), "AU12": float(au["AU12"].mean()),
            "AU12_signed": float(lip_corners_signed(lms, ref_lm).mean())}


def lip_corners_signed(lms: np.ndarray, ref_lm: np.ndarray) -> np.ndarray:
    """AU12's geometry (the ``au`` metric's: lip corners' rise toward the nose tip + half the mouth widening, IOD, vs the
    reference) without its clip at 0. Every 1-step frame of the tiny model has a blurred mouth that tracks 0.10 IOD
    below the neutral reference (so does the tiny VAE's round trip of the real happy frames, -0.11), where the clipped
    proxy reads 0 whatever the expression; the signed one reads the real frames apart (+0.05 happy vs -0.29
    surprised), their VAE round trip (-0.11 vs -0.25) and a real happy vs surprised mouth pasted into generated
    frames (+0.02 vs -0.32; README)."""
    from emoavatar_metrics.au import face_frame

    f, b = face_frame(lms), face_frame(np.asarray(ref_lm)[None])[0]
    rise = (b[[48, 54], 1].mean() - b[33, 1]) - (f[:, [48, 54], 1].mean(1) - f[:, 33, 1])
    return rise + 0.5 * (np.linalg.norm(f[:, 54] - f[:, 48], axis=-1) - np.linalg.norm(b[54] - b[48]))


@pytest.mark.slow
def test_stage2_trains_only_experts_and_moves_expression_toward_request(stage1, stage2, kit_clips):
    """Same audio, same neutral reference, motion frames = the reference (a video's first clip): only the requested
    emotion differs. The AU proxies are measured on landmarks tracked from the reference's (dlib) landmarks; the
    instrument reads the two emotions apart on the real frames (asserted). Asserted on the generated frames: stage 1
    (experts untrained: zero-initialised outputs) gives the same frames for both requests; after stage 2 a *surprised*
    request raises the brows (AU1/AU2) above the *happy* request's and above stage 1's, a *happy* request raises the
    mouth corners (AU12, signed) above the *surprised* request's and above stage 1's, and the mouth/brow pixels move
    toward the requested emotion's frames."""
    pytest.importorskip("emoavatar_metrics")
    import torch
    from emoavatar_diffusion.backbone import is_expert_key
    from emoavatar_diffusion.checkpoint import load_checkpoint
    from emoavatar_diffusion.data import load_clips
    from emoavatar_diffusion.motion import EXPERTS
    from emoavatar_diffusion.sampling import sample_clip, to_tensor, to_uint8
    from emoavatar_diffusion.train import clip_condition
    from safetensors.torch import load_file

    s1, s2 = load_file(str(stage1 / "net.safetensors")), load_file(str(stage2 / "net.safetensors"))
    changed = [k for k in s1 if not torch.equal(s1[k], s2[k])]
    assert changed and all(is_expert_key(k) for k in changed)  # the backbone is frozen in stage 2

    happy, surprised = load_clips([str(kit_clips["happy"]), str(kit_clips["surprised"])])
    ref_lm = reference_landmarks(happy.ref_image, happy.landmarks)
    n, k = len(happy.frames), 6
    idx = np.arange(n - k, n)
    # the held-out frames themselves: the measurement reads the two expressions apart at this size
    real = {"happy": tracked_au_proxies(happy.frames[idx], happy.ref_image, ref_lm),
            "surprised": tracked_au_proxies(surprised.frames[idx], happy.ref_image, ref_lm)}
    frames, gen, pixel = {}, {}, {}
    for stage, folder in (("stage1", stage1), ("stage2", stage2)):
        net, vae, _ = load_checkpoint(folder)
        net.eval()
        for emo in ("happy", "surprised"):
            cond = clip_condition(net, happy, idx, 16, experts=True)
            cond.gates = torch.zeros(k, 6)
            cond.gates[:, EXPERTS.index(emo)] = 1.0
            ref = to_tensor(happy.ref_image[None])
            out = to_uint8(sample_clip(net, vae, cond, ref, ref.repeat(2, 1, 1, 1), STAGE2_EVAL_STEPS,
                                       torch.Generator().manual_seed(0), net.config.vae_scale))
            frames[stage, emo] = out
            gen[stage, emo] = tracked_au_proxies(out, happy.ref_image, ref_lm)
            pixel[stage, emo] = pixel_proxy(out, happy.frames[idx], surprised.frames[idx], happy.landmarks)
    print("AU proxies (tracked): real frames", real, "generated", gen, "pixel proxy (> 0: happier)", pixel)
    assert real["surprised"]["brows"] > real["happy"]["brows"] + 0.03 and real["happy"]["AU12"] > real["surprised"]["AU12"] + 0.03
    assert real["happy"]["AU12_signed"] > real["surprised"]["AU12_signed"] + 0.1  # measured +0.108 vs -0.064
    # stage 1 (experts untrained: zero-initialised outputs) cannot tell the requests apart
    assert np.array_equal(frames["stage1", "happy"], frames["stage1", "surprised"])
    # stage 2: a surprised request raises the brows (both AU1 and AU2) above the happy request's and above stage 1's;
    # measured on the 6.4 s clips (README): brows 0.022 (surprised) vs 0.003 (happy), stage 1 0.010; real frames 0.056
    # vs 0. On the 2 s clips before (README history): 0.019 vs 0.000, stage 1 0.007, and 0.026-0.056 over seeds 0-3
    s, h, base = gen["stage2", "surprised"], gen["stage2", "happy"], gen["stage1", "happy"]
    assert s["brows"] > h["brows"] + 0.012 and s["AU1"] > h["AU1"] and s["AU2"] > h["AU2"]
    assert s["brows"] > base["brows"] + 0.01
    # a happy request raises the mouth corners (AU12's geometry, signed: every generated mouth tracks below the neutral
    # reference, where the clipped AU12 reads 0) above the surprised request's and above stage 1's; measured (README):
    # -0.066 (happy) vs -0.105 (surprised), stage 1 -0.077 (on the 2 s clips before: -0.105 vs -0.173, stage 1 -0.124)
    h12, s12, base12 = h["AU12_signed"], s["AU12_signed"], base["AU12_signed"]
    assert h12 > s12 + 0.02 and h12 > base12 + 0.005
    # and the mouth/brow pixels move toward the requested emotion's frames (measured 1.59 vs -1.90 grey levels; on the 2 s
    # clips before 3.99 vs -1.30)
    assert pixel["stage2", "happy"] > pixel["stage2", "surprised"] + 1.5


@pytest.mark.slow
def test_trained_renderer_end_to_end_through_a_pipeline(stage2, kit_clip_crop, kit_portrait_path, kit_speech_path, tmp_path):
    """prosody -> mixture -> moee-motion -> moee-diffusion (the stage-2 checkpoint) -> mp4 on the kit inputs."""
    import cv2
    from emoavatar.media.video import read_video
    from emoavatar.pipeline import Pipeline
    from emoavatar.testing.data import kit_portrait
    from emoavatar_diffusion.face import head_crop

    pipe = Pipeline.from_dict({
        "fps": 25, "face": {"use": "dlib"}, "encoder": [{"use": "prosody"}], "controller": {"use": "mixture"},
        "motion": {"use": "moee-motion", "with": {"audio": "prosody", "window": 3}},
        "renderer": {"use": "moee-diffusion", "with": {"size": "tiny", "checkpoint": str(stage2), "steps": 2,
                                                        "clip_frames": 4, "motion_frames": 2, "device": "cpu"}},
        "output": {"chunk_size": 10}})
    out = tmp_path / "moee.mp4"
    result = pipe.run(out, portrait=kit_portrait_path, audio=kit_speech_path, emotion="happy")
    frames = np.concatenate(list(read_video(out)))
    portrait = kit_portrait()
    assert frames.shape == (result.n_frames, portrait.height, portrait.width, 3)
    # the renderer crops as the checkpoint's clips were cropped (crop_scale in moee.json)
    x0, y0, side = head_crop(np.asarray(portrait.face.landmarks, np.float64), portrait.height, portrait.width, kit_clip_crop)
    crop = frames[:, y0:y0 + side, x0:x0 + side].astype(np.float32)
    ref = cv2.resize(cv2.resize(portrait.image[y0:y0 + side, x0:x0 + side], (32, 32), interpolation=cv2.INTER_AREA),
                     (side, side)).astype(np.float32)
    err = np.abs(crop - ref[None]).mean()
    assert err < 40, f"the generated head is far from the portrait (mean abs error {err:.1f})"
    assert np.abs(np.diff(crop, axis=0)).mean() > 0.1, "the head does not move"


def test_clips_load_with_and_without_per_frame_landmarks(tmp_path):
    """Older clips (no ``frame_landmarks``) still load and use the first frame's landmarks for every frame."""
    from emoavatar_diffusion.data import load_clips, save_clip
    from emoavatar_diffusion.train import clip_landmarks

    n, rng = 5, np.random.default_rng(0)
    frames, audio, gates = np.zeros((n, 8, 8, 3), np.uint8), np.zeros((n, 2), np.float32), np.full((n, 6), 1 / 6)
    lm = rng.uniform(0.2, 0.8, (68, 2))
    per_frame = lm[None] + np.arange(n)[:, None, None] * 0.01
    save_clip(tmp_path / "old.npz", frames, audio, lm, gates)
    save_clip(tmp_path / "new.npz", frames, audio, lm, gates, frame_landmarks=per_frame)
    new, old = load_clips([str(tmp_path)])
    idx = np.array([1, 3])
    assert old.frame_landmarks is None and np.allclose(clip_landmarks(old, idx), lm[None])
    assert np.allclose(clip_landmarks(new, idx), per_frame[idx]) and np.allclose(clip_landmarks(new, idx, False), lm[None])
    with pytest.raises(ValueError, match="frame_landmarks"):
        save_clip(tmp_path / "bad.npz", frames, audio, lm, gates, frame_landmarks=per_frame[:2])


def test_random_start_shares_the_reference_nets_weights(tmp_path):
    """Hallo starts the ReferenceNet and the denoising U-Net from the same SD-1.5 U-Net: from random weights, every key
    the two share (same shape) starts equal; the denoiser's own modules (motion, audio, conv_out) are untouched."""
    import torch
    from emoavatar_diffusion.backbone import BackboneConfig, Net
    from emoavatar_diffusion.train import share_reference_init

    torch.manual_seed(0)
    net = Net(BackboneConfig.tiny(5))
    before = {k: v.clone() for k, v in net.denoising_unet.state_dict().items()}
    ref = net.reference_unet.state_dict()
    assert not torch.equal(before["conv_in.weight"], ref["conv_in.weight"])
    assert share_reference_init(net) == len(ref)
    after = net.denoising_unet.state_dict()
    assert all(torch.equal(after[k], v) for k, v in ref.items())
    assert all(torch.equal(after[k], before[k]) for k in after if k not in ref)
    assert any(".motion_modules." in k for k in after if k not in ref) and "conv_out.weight" not in ref


def test_min_snr_weight_is_hallos():
    """Hallo's training weight for v-prediction: min(SNR + 1, gamma) / (SNR + 1): 1 where the noise dominates (and at
    the zero-SNR terminal timestep), gamma / (SNR + 1) at the nearly clean timesteps."""
    from emoavatar_diffusion.sampling import make_scheduler
    from emoavatar_diffusion.train import min_snr_weight, snr_of

    snr = snr_of(make_scheduler("scaled_linear"))
    assert float(snr[999]) < 1e-6 and min_snr_weight(snr[999], 5.0) == 1.0
    assert min_snr_weight(snr[0], 5.0) == 5.0 / (float(snr[0]) + 1) < 0.01
    w = [min_snr_weight(s, 5.0) for s in snr]
    assert all(a <= b + 1e-12 for a, b in zip(w, w[1:]))  # noisier timesteps never weigh less
    assert float(snr_of(make_scheduler("linear"))[300]) < float(snr[300])  # scaled-linear betas: less noise mid-way
