"""The ``facs-rig`` MotionGenerator: emotion experts + visemes + blinks + head motion -> 68 landmarks.

Per frame t (all in face units, see :mod:`.face_frame`):

1. expert mixture (MoEE's soft gating, weight-free) towards an *absolute* expression:
   ``a(t) = o + intensity(t) (g Σ_e w_e(t) P_e − o)`` over the FACS prototypes ``P_e``
   (``g``: ``expression_scale``)
   (:mod:`.prototypes`), where ``o`` is the portrait's own expression estimated from its
   landmarks (:mod:`.own_expression`; ``retarget: false`` sets ``o = 0``, the old additive rig).
   Intensity 0 keeps the portrait's face, ``neutral`` at intensity 1 is a neutral face. AU
   overrides (also times ``g``) replace their channels; lip closers (AU23, AU24) yield to speech
   by ``speech_dominance · utterance(t)``, held through short pauses; the emotional jaw (AU26,
   AU27) is a baseline reduced by ``jaw_yield · utterance(t)``, the lip parting (AU25) by
   ``lip_yield · utterance(t)`` (0: held), both closed by the bilabial viseme's weight, so the
   visemes ride on top; Gaussian smoothing.
2. shape ``S(t) = rest + Σ_k (a_k(t) − o_k) F_k + mouth_scale Σ_v v_v(t) D_v``
   with AU fields ``F_k`` (:mod:`.action_units`) and viseme fields ``D_v`` (:mod:`.mouth`) of
   the neutralised face ``rest − Σ_k o_k F_k`` (the lip closures close *its* lips): speech rides
   on top of the emotional pose.
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
from .own_expression import OwnExpression, estimate
from .prototypes import JAW_OPENING, LIP_PARTING, PROTOTYPES, SPEECH_YIELDING
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

    def activations(self, emotion: EmotionState, n: int, fps: float, speaking: np.ndarray,
                    own: np.ndarray | None = None, closure: np.ndarray | None = None) -> np.ndarray:
        """``[T, C]`` AU activations: expert mixture towards the absolute target from the own
        activations ``own [C]``, overrides, speech yielding, smoothing. ``closure [T]`` (0..1, the
        bilabial visemes' weight) closes the emotional jaw where speech presses the lips."""
        w = fit_rows(emotion.weights, n)
        inten = fit_rows(emotion.intensity, n)
        mix = expert_mixture(emotion, w, self.prototype_matrix(tuple(emotion.vocabulary)), CHANNELS)
        target = self.config.expression_scale * mix
        own = np.zeros(len(CHANNELS)) if own is None else own
        act = own[None] + inten[:, None] * (target - own[None])
        if emotion.au is not None and emotion.au_names:
            au = fit_rows(emotion.au, n)
            for j, name in enumerate(emotion.au_names):
                if name not in CHANNELS:
                    warnings.warn(f"facs-rig: no displacement field for {name!r}; override ignored", stacklevel=2)
                    continue
                given = np.isfinite(au[:, j])
                act[given, CHANNELS.index(name)] = self.config.expression_scale * np.clip(au[given, j], 0.0, 1.0)
        yield_ = 1.0 - self.config.speech_dominance * speaking
        for name in SPEECH_YIELDING:
            act[:, CHANNELS.index(name)] *= yield_
        press = 1.0 if closure is None else 1.0 - np.clip(closure, 0.0, 1.0)
        jaw = (1.0 - self.config.jaw_yield * speaking) * press
        for name in JAW_OPENING:  # a baseline the visemes ride on; bilabials close it
            act[:, CHANNELS.index(name)] *= jaw
        lips = (1.0 - self.config.lip_yield * speaking) * press
        for name in LIP_PARTING:  # held while speaking (lip_yield 0); bilabials close it
            act[:, CHANNELS.index(name)] *= lips
        return np.clip(gaussian_smooth(act, self.config.smoothing * fps), 0.0, 2.0)

    def own_expression(self, portrait: Portrait, rest: np.ndarray, fields: dict[str, np.ndarray]) -> OwnExpression:
        """The portrait's own expression (zero when ``retarget`` is off)."""
        if not self.config.retarget:
            return OwnExpression()
        return estimate(rest, fields, portrait.image, np.asarray(portrait.face.landmarks, np.float64))

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
        fields = au_fields(rest)
        own = self.own_expression(portrait, rest, fields)
        o = np.array([own.au.get(c, 0.0) for c in CHANNELS])
        act = self.activations(emotion, n, fps, utterance(speaking, fps, cfg.pause_hold), o, vw[:, VISEMES.index("PP")])

        lin = [c for c in CHANNELS if c not in CLOSURE_AUS]
        f_au = np.stack([fields[c] for c in lin])  # [C', 68, 2]
        li = [CHANNELS.index(c) for c in lin]
        d_expr = np.einsum("tc,cij->tij", act[:, li] - o[None, li], f_au)  # the gain is in the target
        base = rest - np.einsum("c,cij->ij", o[li], f_au)  # the portrait's neutral face
        d_mouth = np.einsum("tv,vij->tij", vw, viseme_fields(base))
        shape = rest[None] + d_expr + cfg.mouth_scale * d_mouth

        blink = blink_track(n, fps, ctx.seed, cfg.blink_rate_per_min)
        closure = np.maximum(blink, act[:, [CHANNELS.index(c) for c in CLOSURE_AUS]].max(1))
        shape = keep_order(close_eyelids(shape, closure))
        mouth_open = np.clip(shape[:, 66, 1] - shape[:, 62, 1], 0.0, None)
        teeth, own_mouth = self._mouth_tracks(act, o, fit_rows(emotion.intensity, n) if cfg.retarget else np.zeros(n))

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
                "teeth": teeth.astype(np.float32),
                "own_mouth": own_mouth.astype(np.float32),
                "au_change": (act - o[None]).astype(np.float32),  # beyond the portrait's own (renderer shading)
            },
            fps=fps,
            meta={"au_names": CHANNELS, "au": act.astype(np.float32), "iod": frame.iod, "face_size": face_size,
                  "own_au": dict(own.au), "own_teeth": own.teeth},
        )

    @staticmethod
    def _mouth_tracks(act: np.ndarray, own: np.ndarray, intensity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hints for the renderer's mouth interior, per frame in [0, 1]: ``teeth``, how much upper
        teeth an opened mouth shows (a smile, AU12, or a raised upper lip, AU10, bares them);
        ``own_mouth``, how much of the portrait's own lip gap (and what shows in it) the frame
        keeps: ``1 − intensity`` when the portrait's mouth is open (retargeting replaces it), so a
        frame driven to another expression paints its whole opening instead of stretching the
        portrait's teeth."""
        c12, c10 = CHANNELS.index("AU12"), CHANNELS.index("AU10")
        teeth = np.clip(0.7 * act[:, c12] + 0.8 * act[:, c10], 0.0, 1.0)
        opened = own[CHANNELS.index("AU25")] + own[CHANNELS.index("AU26")] > 1e-3
        keep = np.clip(1.0 - intensity, 0.0, 1.0) if opened else np.ones(len(act))
        return teeth, keep

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


def utterance(speaking: np.ndarray, fps: float, hold: float) -> np.ndarray:
    """Speech activity held through pauses shorter than ``hold`` seconds (a running max over
    ``hold``, centred), then smoothed over 0.1 s: the emotional jaw stays reduced for a whole
    phrase instead of springing open between words."""
    half = int(round(0.5 * hold * fps))
    s = np.asarray(speaking, np.float64)
    if half > 0 and len(s):
        padded = np.pad(s, half, mode="edge")
        s = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1).max(1)
    return np.clip(gaussian_smooth(s, 0.1 * fps), 0.0, 1.0)

