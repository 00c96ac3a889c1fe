"""The ``facs-rig`` MotionGenerator: emotion experts + visemes + blinks + head motion -> 68 landmarks.

Per frame t (all in face units, see :mod:`.face_frame`):

1. expert mixture (MoEE's soft gating, weight-free): ``a(t) = intensity(t) Σ_e w_e(t) P_e``
   over the FACS prototypes ``P_e`` (:mod:`.prototypes`); AU overrides from the request
   replace their channels; mouth AUs that open/close the lips yield to speech by
   ``speech_dominance · speaking(t)``; Gaussian smoothing.
2. shape ``S(t) = rest + expression_scale Σ_k a_k(t) F_k + mouth_scale Σ_v v_v(t) D_v``
   with AU fields ``F_k`` (:mod:`.action_units`) and viseme fields ``D_v`` (:mod:`.mouth`).
3. eyelids close by ``max(blink(t), AU43, AU45)``; lids and lips never cross.
4. a small rigid head motion (yaw/pitch/roll about the face centre with a depth template,
   scale, translation), then back to pixels.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
from emoavatar.emotions import ACTION_UNITS
from emoavatar.errors import PortError
from emoavatar.interfaces import MotionGenerator, RunContext
from emoavatar.types import AudioFeatures, EmotionState, Motion, Portrait
from emoavatar.visemes import VISEMES

from .action_units import CLOSURE_AUS, au_fields, close_eyelids, keep_order
from .face_frame import DEPTH, FaceFrame
from .idle import blink_track, head_pose, speech_emphasis
from .mouth import viseme_fields
from .prototypes import PROTOTYPES, SPEECH_YIELDING
from .regions import expert_mixture
from .smoothing import fit_rows, gaussian_smooth
from .spec import UNILATERAL_AUS, FacsRigConfig

#: Rig channels: FACS's AU list plus one-sided AUs; ``meta["au"]`` columns are in this order.
CHANNELS: tuple[str, ...] = tuple(ACTION_UNITS) + UNILATERAL_AUS
VISEME_PORT, PROSODY_PORT = "features:visemes", "features:prosody"
PIVOT_DEPTH = -0.6  # face units behind the eye plane: the head turns about a point inside it


class FacsRigGenerator(MotionGenerator):
    """See module doc. Output space ``landmarks68``."""

    def __init__(self, config: FacsRigConfig | None = None) -> None:
        super().__init__(config or FacsRigConfig())
        self.prototypes = {**PROTOTYPES, **self.config.prototypes}

    # -- the expert mixture ---------------------------------------------------------------
    def prototype_matrix(self, vocabulary: tuple[str, ...]) -> np.ndarray:
        """``[E, C]``: each emotion's AU pattern over :data:`CHANNELS` (unknown emotion: zero)."""
        m = np.zeros((len(vocabulary), len(CHANNELS)))
        for i, e in enumerate(vocabulary):
            for au, w in self.prototypes.get(e, {}).items():
                m[i, CHANNELS.index(au)] = w
        return m

    def activations(self, emotion: EmotionState, n: int, fps: float, speaking: np.ndarray) -> np.ndarray:
        """``[T, C]`` AU activations: expert mixture, overrides, speech yielding, smoothing."""
        w = fit_rows(emotion.weights, n)
        inten = fit_rows(emotion.intensity, n)
        act = inten[:, None] * expert_mixture(emotion, w, self.prototype_matrix(tuple(emotion.vocabulary)), CHANNELS)
        if emotion.au is not None and emotion.au_names:
            au = fit_rows(emotion.au, n)
            for j, name in enumerate(emotion.au_names):
                if name not in CHANNELS:
                    warnings.warn(f"facs-rig: no displacement field for {name!r}; override ignored", stacklevel=2)
                    continue
                given = np.isfinite(au[:, j])
                act[given, CHANNELS.index(name)] = np.clip(au[given, j], 0.0, 1.0)
        yield_ = 1.0 - self.config.speech_dominance * speaking
        for name in SPEECH_YIELDING:
            act[:, CHANNELS.index(name)] *= yield_
        return np.clip(gaussian_smooth(act, self.config.smoothing * fps), 0.0, 2.0)

    # -- the whole face ---------------------------------------------------------------------
    def generate(
        self, features: Mapping[str, AudioFeatures], emotion: EmotionState, portrait: Portrait, ctx: RunContext
    ) -> Motion:
        cfg = self.config
        fps = float(ctx.fps)
        vis = features.get(VISEME_PORT)
        if vis is None:
            raise PortError(
                "facs-rig needs features:visemes, but no encoder in the pipeline produces it",
                fix="add the phoneme/viseme encoder (encoders: [{use: phonemes}]) before facs-rig",
            )
        n = int(ctx.n_frames) if ctx.n_frames else len(vis)
        rest_px = np.asarray(portrait.face.landmarks, np.float64)
        if rest_px.shape != (68, 2) or not np.isfinite(rest_px).all():
            raise PortError(f"facs-rig needs 68 finite portrait landmarks, got shape {rest_px.shape}")
        frame = FaceFrame.from_landmarks(rest_px)
        rest = frame.to_face(rest_px)

        vw = fit_rows(self._viseme_weights(vis), n, vis.fps, fps)
        vw = gaussian_smooth(vw, cfg.mouth_smoothing * fps)
        speaking = np.clip(1.0 - vw[:, 0], 0.0, 1.0)  # column 0 is sil
        act = self.activations(emotion, n, fps, gaussian_smooth(speaking, 0.1 * fps))

        lin = [c for c in CHANNELS if c not in CLOSURE_AUS]
        fields = au_fields(rest)
        f_au = np.stack([fields[c] for c in lin])  # [C', 68, 2]
        d_expr = np.einsum("tc,cij->tij", act[:, [CHANNELS.index(c) for c in lin]], f_au)
        d_mouth = np.einsum("tv,vij->tij", vw, viseme_fields(rest))
        shape = rest[None] + cfg.expression_scale * d_expr + cfg.mouth_scale * d_mouth

        blink = blink_track(n, fps, ctx.seed, cfg.blink_rate_per_min)
        closure = np.maximum(blink, act[:, [CHANNELS.index(c) for c in CLOSURE_AUS]].max(1))
        shape = keep_order(close_eyelids(shape, closure))
        mouth_open = np.clip(shape[:, 66, 1] - shape[:, 62, 1], 0.0, None)

        emphasis = self._emphasis(features.get(PROSODY_PORT), n, fps)
        face_size = 2.0 * frame.iod
        pose = head_pose(n, fps, ctx.seed, cfg.head_motion, face_size, emphasis)
        landmarks = self._apply_pose(shape, rest, pose, frame)
        return Motion(
            space="landmarks68",
            tracks={
                "landmarks68": landmarks.astype(np.float32),
                "pose": pose.astype(np.float32),
                "blink": blink.astype(np.float32),
                "mouth_open": mouth_open.astype(np.float32),
            },
            fps=fps,
            meta={"au_names": CHANNELS, "au": act.astype(np.float32), "iod": frame.iod, "face_size": face_size},
        )

    @staticmethod
    def _viseme_weights(vis: AudioFeatures) -> np.ndarray:
        """``[T, 15]`` in :data:`VISEMES` order, rows normalised (missing columns = 0)."""
        values = np.clip(np.asarray(vis.values, np.float64), 0.0, None)
        names = vis.names or VISEMES[: values.shape[1]]
        out = np.zeros((len(values), len(VISEMES)))
        for j, name in enumerate(names):
            if name in VISEMES:
                out[:, VISEMES.index(name)] += values[:, j]
        total = out.sum(1, keepdims=True)
        out[total[:, 0] <= 1e-9, 0] = 1.0  # no information: rest
        return out / np.maximum(out.sum(1, keepdims=True), 1e-9)

    @staticmethod
    def _emphasis(prosody: AudioFeatures | None, n: int, fps: float) -> np.ndarray | None:
        if prosody is None or not prosody.names:
            return None
        names = prosody.names
        loud_name = "loudness" if "loudness" in names else "rms" if "rms" in names else None
        if loud_name is None:
            return None
        loud = fit_rows(prosody.column(loud_name), n, prosody.fps, fps)
        speech = fit_rows(prosody.column("speech"), n, prosody.fps, fps) if "speech" in names else np.ones(n)
        return speech_emphasis(np.asarray(loud, np.float64), np.asarray(speech, np.float64), fps)

    @staticmethod
    def _apply_pose(shape: np.ndarray, rest: np.ndarray, pose: np.ndarray, frame: FaceFrame) -> np.ndarray:
        """Rigid yaw/pitch/roll about the face centre (with the depth template), scale, shift -> pixels."""
        centre = np.array([*rest.mean(0), PIVOT_DEPTH])
        p = np.concatenate([shape, np.broadcast_to(DEPTH[None, :, None], shape.shape[:2] + (1,))], -1) - centre
        yaw, pitch, roll = pose[:, 0], pose[:, 1], pose[:, 2]
        cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
        one, zero = np.ones_like(yaw), np.zeros_like(yaw)
        # z points towards the camera, y down: pitch > 0 tips the face down, yaw > 0 turns it to image-right.
        r_yaw = np.stack([np.stack([cy, zero, sy], -1), np.stack([zero, one, zero], -1),
                          np.stack([-sy, zero, cy], -1)], -2)
        r_pitch = np.stack([np.stack([one, zero, zero], -1), np.stack([zero, cp, sp], -1),
                            np.stack([zero, -sp, cp], -1)], -2)
        r_roll = np.stack([np.stack([cr, -sr, zero], -1), np.stack([sr, cr, zero], -1),
                           np.stack([zero, zero, one], -1)], -2)
        rot = r_roll @ r_yaw @ r_pitch
        q = np.einsum("tij,tnj->tni", rot, p)[..., :2] * pose[:, None, 5:6] + centre[:2]
        return frame.to_pixels(q) + pose[:, None, 3:5]
