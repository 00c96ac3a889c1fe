"""``warp2d``: render ``motion:landmarks68`` by warping the portrait piecewise-affinely.

Per frame: target landmarks (with blinks applied to the upper lids) -> all control points
(:mod:`.mesh`) -> backward map (:mod:`.warp`), with the eye openings of closing eyes mapped
rigidly (:mod:`.eyes`) -> ``cv2.remap`` -> mouth cavity (:mod:`.mouth`) and closed-lid paint.
Everything is deterministic: the same motion gives the same pixels.
"""

from __future__ import annotations

import cv2
import numpy as np
from emoavatar.errors import FaceNotFoundError, PortError
from emoavatar.interfaces import Renderer, RunContext
from emoavatar.types import Motion, Portrait

from .eyes import EYES, EyePainter, close_lids
from .mesh import Mesh, build_mesh, face_frame
from .mouth import MouthPainter
from .shading import ExpressionShader
from .spec import Warp2DConfig
from .threads import one_cv2_thread
from .warp import build_map, warp

SPACE = "landmarks68"


class Warp2DRenderer(Renderer):
    """Piecewise-affine warp of the portrait driven by absolute 68-point landmark tracks."""

    def __init__(self, config: Warp2DConfig | None = None) -> None:
        super().__init__(config if config is not None else Warp2DConfig())
        self._portrait: Portrait | None = None

    # -- per portrait ------------------------------------------------------------------
    def prepare(self, portrait: Portrait, ctx: RunContext | None = None) -> None:
        cfg = self.config
        image = np.ascontiguousarray(portrait.image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"portrait image must be uint8 RGB [H, W, 3], got {image.dtype} {image.shape}")
        lm = None if portrait.face is None else np.asarray(portrait.face.landmarks, dtype=np.float64)
        if lm is None or lm.shape != (68, 2) or not np.isfinite(lm).all():
            raise FaceNotFoundError("warp2d needs the portrait's 68 face landmarks",
                                    fix="analyze the portrait with a FaceAnalyzer (e.g. dlib) first")
        h, w = image.shape[:2]
        self._portrait = portrait
        self._image = image
        self.mesh: Mesh = build_mesh(lm, h, w, cfg.ring_scale, cfg.head_ring_scale, cfg.border_margin)
        # interior (mouth, eye openings) first, so lips and lids win where triangles fold
        self._order = np.concatenate([np.flatnonzero(self.mesh.interior), np.flatnonzero(~self.mesh.interior)])
        iod = self.mesh.iod
        self._mouth = MouthPainter(image, lm, iod, cfg.teeth, cfg.feather, cfg.cavity) if cfg.mouth_fill else None
        self._eyes = EyePainter(image, lm, iod, cfg.feather)
        self._shader: ExpressionShader | None = None

    # -- per chunk ---------------------------------------------------------------------
    def render(self, motion: Motion, ctx: RunContext | None = None) -> np.ndarray:
        if self._portrait is None:
            raise RuntimeError("Warp2DRenderer.render() called before prepare(portrait)")
        tracks, blink = self._check(motion)
        teeth, own_mouth = self._hint(motion, "teeth", len(tracks)), self._hint(motion, "own_mouth", len(tracks))
        shader, change = self._au_change(motion, len(tracks))
        frames = np.empty((len(tracks), *self._image.shape), np.uint8)
        rest = None if shader is None else np.asarray(self._portrait.face.landmarks, np.float64)
        with one_cv2_thread():  # small regions, x264 on the other cores: OpenCV's pool costs more than it saves
            for i, lm in enumerate(tracks):  # drawn in place: no copy per frame
                self.render_frame(lm, float(blink[i]) if blink is not None else 0.0,
                                  None if teeth is None else float(teeth[i]),
                                  1.0 if own_mouth is None else float(own_mouth[i]), out=frames[i],
                                  source=None if shader is None else shader.shaded(self._image, rest, change[i]))
        return frames

    def _au_change(self, motion: Motion, n: int) -> tuple[ExpressionShader | None, np.ndarray | None]:
        """The optional ``au_change [T, A]`` track (FACS AU intensities beyond the portrait's own,
        columns named by ``meta["au_names"]``) and the shader that draws it; ``(None, None)`` when
        absent or ``shading`` is 0."""
        x = motion.tracks.get("au_change")
        if x is None or self.config.shading <= 0:
            return None, None
        names = list(motion.meta.get("au_names") or [])
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (n, len(names)) or not np.isfinite(x).all():
            raise PortError(f"motion au_change track must be [T, {len(names)}] finite values (one column per "
                            f"meta['au_names']), got shape {x.shape}", fix="connect a motion generator that produces "
                            "motion:landmarks68 with AU names, e.g. facs-rig")
        if self._shader is None or list(self._shader.names) != names:  # kept across chunks (its cache)
            self._shader = ExpressionShader(names, self.config.shading)
        return self._shader, x

    @staticmethod
    def _hint(motion: Motion, name: str, n: int) -> np.ndarray | None:
        """Optional per-frame mouth hint track in [0, 1] (``teeth``, ``own_mouth``); None when absent."""
        x = motion.tracks.get(name)
        if x is None:
            return None
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        if len(x) != n or not np.isfinite(x).all():
            raise PortError(f"motion {name} track must be [T] finite values, got shape {np.shape(motion.tracks[name])}",
                            fix="connect a motion generator that produces motion:landmarks68")
        return np.clip(x, 0.0, 1.0)

    def render_frame(self, lm: np.ndarray, blink: float = 0.0, teeth: float | None = None,
                     own_mouth: float = 1.0, out: np.ndarray | None = None,
                     source: np.ndarray | None = None) -> np.ndarray:
        """One frame for target landmarks ``lm [68, 2]`` (portrait pixels) and a blink amount;
        ``teeth`` (0..1) bares more upper teeth in an opened mouth, ``own_mouth`` (0..1) is the
        share of the portrait's own lip gap the frame keeps (the cavity is painted beyond it).
        ``out`` (uint8 [H, W, 3]) receives the frame instead of a new array; ``source`` replaces
        the portrait as the image warped (the portrait with expression shading painted on its skin)."""
        lm_open = np.asarray(lm, dtype=np.float64)
        lm_t = close_lids(lm_open, blink)
        src = self.mesh.points
        dst = self.mesh.target_points(lm_t)
        h, w = self._image.shape[:2]
        built = build_map(src, dst, self.mesh.triangles, self._order, h, w, self.config.map_scale)
        image = self._image if source is None else source
        if built is None:
            frame = image.copy() if out is None else np.copyto(out, image) or out
        else:
            bbox, map_x, map_y = built
            self._eyeballs(lm_t, bbox, map_x, map_y)
            frame = warp(image, bbox, map_x, map_y, out=out)
        _, _, iod = face_frame(lm_t)
        if self._mouth is not None:
            self._mouth.paint(frame, lm_t, iod, teeth, own_mouth)
        if self.config.blink_fill and blink > 0:
            self._eyes.paint(frame, lm_open, lm_t, blink, iod)
        return frame

    def _eyeballs(self, lm: np.ndarray, bbox, map_x: np.ndarray, map_y: np.ndarray) -> None:
        """Map the opening of a closing eye rigidly, so the lid slides over the eyeball."""
        x0, y0, x1, y1 = bbox
        for e, eye in enumerate(EYES):
            aff = self._eyes.eyeball_affine(lm, e)
            if aff is None:
                continue
            poly = lm[eye]
            ex0, ey0 = np.maximum(np.floor(poly.min(0)).astype(int) - 1, [x0, y0])
            ex1, ey1 = np.minimum(np.ceil(poly.max(0)).astype(int) + 2, [x1, y1])
            if ex1 <= ex0 or ey1 <= ey0:
                continue
            mask = np.zeros((ey1 - ey0, ex1 - ex0), np.uint8)
            cv2.fillConvexPoly(mask, np.round((poly - [ex0, ey0]) * 16).astype(np.int32), 1, cv2.LINE_8, 4)
            ys, xs = np.nonzero(mask)
            gx, gy = xs + ex0, ys + ey0
            map_x[gy - y0, gx - x0] = aff[0, 0] * gx + aff[0, 1] * gy + aff[0, 2]
            map_y[gy - y0, gx - x0] = aff[1, 0] * gx + aff[1, 1] * gy + aff[1, 2]

    def _check(self, motion: Motion) -> tuple[np.ndarray, np.ndarray | None]:
        fix = "connect a motion generator that produces motion:landmarks68"
        if motion.space != SPACE:
            raise PortError(f"warp2d consumes motion:{SPACE}, got motion:{motion.space}", fix=fix)
        tracks = np.asarray(motion.tracks.get(SPACE), dtype=np.float64)
        if tracks.ndim != 3 or tracks.shape[1:] != (68, 2):
            raise PortError(f"motion:{SPACE} track must be [T, 68, 2] pixel coordinates, got {tracks.shape}", fix=fix)
        if not np.isfinite(tracks).all():
            raise PortError(f"motion:{SPACE} track contains NaN or infinite coordinates", fix=fix)
        blink = motion.tracks.get("blink")
        if blink is not None:
            blink = np.asarray(blink, dtype=np.float64).reshape(len(blink), -1)
            if blink.shape[1] != 1 or not np.isfinite(blink).all():
                raise PortError(f"motion blink track must be [T] values in [0, 1], got {blink.shape}", fix=fix)
            blink = blink[:, 0]
        return tracks, blink
