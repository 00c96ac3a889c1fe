"""The control mesh: the 68 landmarks plus stable extra points, triangulated once per portrait.

Extra points (all derived from the portrait's own landmarks):

* forehead rows above the brows, which follow the brows partly (lower row) or only the rigid
  head motion (upper row);
* a *head ring* at ``head_ring_scale`` x the face size that follows the rigid head motion, so
  hair moves with the head;
* a *fixed ring* at ``ring_scale`` x the face size and a frame of points just outside the
  image border: they never move, so background and shoulders stay put and the deformation falls
  off smoothly (linearly, triangle by triangle) between the head ring and the fixed ring.

The lips have a fixed topology (a ring of triangles between the outer and inner contour, then
the inner-lip polygon), so no triangle bridges the lip gap even when the portrait's mouth is
closed; the rest is a Delaunay triangulation of the other points with the eyelids parted a
little first, so the eye openings are unions of triangles too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from emoavatar.types import INNER_LIPS, LEFT_EYE, RIGHT_EYE

#: landmarks that move little with expression: jaw tops, nose, eye corners (rigid head fit).
STABLE = np.array([0, 16, 27, 28, 29, 30, 31, 33, 35, 36, 39, 42, 45])
#: brow points that carry a forehead column each.
BROW_ANCHORS = np.array([17, 19, 21, 22, 24, 26])
#: how much of a brow's own (non-rigid) displacement each forehead row takes.
FOREHEAD_FOLLOW = (0.7, 0.25)
FOREHEAD_HEIGHT = (0.35, 0.8)  # in inter-ocular distances above the brows
#: share of the chin's own (jaw-drop) motion taken by the bottom of the head ring (skin under the chin).
JAW_FOLLOW = 0.6


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) ``2x3`` mapping src -> dst."""
    ms, md = src.sum(0) / len(src), dst.sum(0) / len(dst)  # = mean(0) bit for bit, without its overhead
    a, b = src - ms, dst - md
    den = float((a * a).sum()) or 1.0
    c = float((a * b).sum()) / den                      # s cos(theta)
    s = float((a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum()) / den  # s sin(theta)
    rot = np.array([[c, -s], [s, c]])
    return np.hstack([rot, (md - rot @ ms)[:, None]])


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def face_frame(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Unit vectors along the eye line (``right``, towards the subject's left eye) and ``up``,
    and the inter-ocular distance."""
    re, le = lm[RIGHT_EYE].sum(0) / 6, lm[LEFT_EYE].sum(0) / 6  # the eyes' centres (= mean(0), less overhead)
    d = le - re
    iod = float(np.linalg.norm(d)) or 1.0
    right = d / iod
    up = np.array([right[1], -right[0]])
    return right, up, iod


@dataclass
class Mesh:
    """Source control points ``points [P, 2]`` (0..67 = landmarks), ``triangles [K, 3]`` and
    the bookkeeping to place the extra points for a target frame."""

    points: np.ndarray
    triangles: np.ndarray
    forehead: list[tuple[int, int, float]]  # (point index, brow landmark, follow)
    head_ring: np.ndarray                   # point indices following the rigid head motion
    head_jaw: np.ndarray                    # per head-ring point: share of the chin's own motion it takes
    fixed: np.ndarray                       # point indices that never move
    interior: np.ndarray                    # bool [K]: triangle inside the mouth or an eye opening
    iod: float

    @cached_property
    def _forehead_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``forehead`` as index / brow / follow arrays (built once, used every frame)."""
        return (np.array([f[0] for f in self.forehead]), np.array([f[1] for f in self.forehead]),
                np.array([f[2] for f in self.forehead])[:, None])

    def target_points(self, lm: np.ndarray) -> np.ndarray:
        """All control points for target landmarks ``lm [68, 2]``."""
        src = self.points
        rigid = similarity(src[STABLE], lm[STABLE])
        out = src.copy()
        out[:68] = lm
        chin = lm[8] - apply(rigid, src[8:9])[0]  # jaw drop beyond the rigid head motion
        out[self.head_ring] = apply(rigid, src[self.head_ring]) + self.head_jaw[:, None] * chin
        if self.forehead:
            idx, brow, follow = self._forehead_arrays
            own = lm[brow] - apply(rigid, src[brow])  # brow motion beyond the rigid head motion
            out[idx] = apply(rigid, src[idx]) + follow * own
        return out


def _ellipse(centre: np.ndarray, right: np.ndarray, up: np.ndarray, a: float, b: float, n: int) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False) + np.pi / n
    return centre + np.outer(a * np.cos(t), right) + np.outer(b * np.sin(t), up)


def _frame_points(h: int, w: int, margin: float) -> np.ndarray:
    m = margin * max(h, w)
    x0, y0, x1, y1 = -m - 0.5, -m - 0.5, w - 0.5 + m, h - 0.5 + m
    nx = max(2, int(np.ceil((x1 - x0) / (max(h, w) / 6))))
    ny = max(2, int(np.ceil((y1 - y0) / (max(h, w) / 6))))
    xs, ys = np.linspace(x0, x1, nx + 1), np.linspace(y0, y1, ny + 1)
    pts = [(x, y0) for x in xs] + [(x, y1) for x in xs] + [(x0, y) for y in ys[1:-1]] + [(x1, y) for y in ys[1:-1]]
    return np.array(pts, dtype=np.float64)


def _opened_eyes(lm: np.ndarray, iod: float, up: np.ndarray) -> np.ndarray:
    """The landmarks with the lids parted a little: only used to choose the triangulation."""
    o = lm.copy()
    for upper, lower in (((37, 38), (41, 40)), ((43, 44), (47, 46))):
        o[list(upper)] += 0.08 * iod * up
        o[list(lower)] -= 0.04 * iod * up
    return o


def _lip_triangles() -> np.ndarray:
    """Fixed topology of the lips: the ring between outer (48-59) and inner (60-67) contour,
    then the inner-lip polygon (the mouth opening)."""
    partner = {48: 60, 49: 61, 50: 61, 51: 62, 52: 63, 53: 63, 54: 64, 55: 65, 56: 65, 57: 66, 58: 67, 59: 67}
    outer = list(range(48, 60))
    tris = []
    for k, o in enumerate(outer):
        n = outer[(k + 1) % 12]
        tris.append((o, n, partner[o]))
        if partner[n] != partner[o]:
            tris.append((n, partner[n], partner[o]))
    opening = [(60, 61, 67), (61, 66, 67), (61, 62, 66), (62, 65, 66), (62, 63, 65), (63, 64, 65)]
    return np.array(tris + opening, dtype=np.int32)


def _triangulate(topo: np.ndarray) -> np.ndarray:
    """Delaunay of every point but the inner lips, with the triangles inside the outer-lip contour
    replaced by the fixed lip topology (so no triangle ever bridges the lip gap). Falls back to
    plain Delaunay when the outer-lip contour is not made of Delaunay edges."""
    from scipy.spatial import Delaunay

    keep = np.array([i for i in range(len(topo)) if not 60 <= i < 68])
    tris = keep[Delaunay(topo[keep]).simplices]
    outer = set(range(48, 60))
    inside = np.array([set(t.tolist()) <= outer for t in tris])
    contour = list(range(48, 60))
    edges = {tuple(sorted((int(t[i]), int(t[(i + 1) % 3])))) for t in tris for i in range(3)}
    if all(tuple(sorted(e)) in edges for e in zip(contour, contour[1:] + contour[:1])):
        # triangles made only of outer-lip points lie inside the contour unless the contour is very concave
        cand = np.vstack([tris[~inside], _lip_triangles()])
        if _covers_once(topo, cand):
            return cand.astype(np.int32)
    return Delaunay(topo).simplices.astype(np.int32)


def _covers_once(pts: np.ndarray, tris: np.ndarray) -> bool:
    """True when the triangles tile the convex hull: total |area| equals the hull area."""
    from scipy.spatial import ConvexHull

    hull = ConvexHull(pts).volume  # in 2-D, the area
    return bool(abs(np.abs(_signed_areas(pts, tris)).sum() - hull) < 1e-6 * hull + 1e-6)


def _signed_areas(pts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    a, b, c = pts[tris[:, 0]], pts[tris[:, 1]], pts[tris[:, 2]]
    return 0.5 * ((b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0])


def _interior(triangles: np.ndarray) -> np.ndarray:
    """Triangles inside the mouth opening or an eye opening."""
    inner = set(range(INNER_LIPS.start, INNER_LIPS.stop))
    eyes = [set(range(RIGHT_EYE.start, RIGHT_EYE.stop)), set(range(LEFT_EYE.start, LEFT_EYE.stop))]
    return np.array([set(t) <= inner or any(set(t) <= e for e in eyes) for t in triangles.tolist()])


def build_mesh(lm: np.ndarray, height: int, width: int, ring_scale: float = 1.6,
               head_ring_scale: float = 1.2, border_margin: float = 0.05) -> Mesh:
    """Control points and triangles for a portrait with landmarks ``lm [68, 2]``."""
    lm = np.asarray(lm, dtype=np.float64)
    right, up, iod = face_frame(lm)
    forehead_pts, forehead = [], []
    for hgt, follow in zip(FOREHEAD_HEIGHT, FOREHEAD_FOLLOW):
        for b in BROW_ANCHORS:
            forehead_pts.append(lm[b] + hgt * iod * up)
            forehead.append((b, follow))
    forehead_pts = np.array(forehead_pts)

    # the face region in the face frame (landmarks + upper forehead row)
    region = np.vstack([lm, forehead_pts])
    u, v = region @ right, region @ up
    centre = right * (u.min() + u.max()) / 2 + up * (v.min() + v.max()) / 2
    half_w, half_h = (u.max() - u.min()) / 2, (v.max() - v.min()) / 2
    head = _ellipse(centre, right, up, head_ring_scale * half_w, head_ring_scale * half_h, 16)
    ring = _ellipse(centre, right, up, ring_scale * half_w, ring_scale * half_h, 20)
    frame = _frame_points(height, width, border_margin)
    m = border_margin * max(height, width)
    lo, hi = np.array([-m, -m]), np.array([width - 1 + m, height - 1 + m])

    groups = ((forehead_pts, "forehead"), (head, "head"), (ring, "fixed"), (frame, "fixed"))
    buf = np.empty((68 + sum(len(g) for g, _ in groups), 2))  # the points kept so far: buf[:n]
    buf[:68], n = lm, 68
    kinds = ["lm"] * 68
    follow_of: dict[int, tuple[int, float]] = {}
    min_dist = max(1.0, 0.08 * iod)
    for group, kind in groups:
        for i, p in enumerate(group):
            if (kind != "fixed" or group is ring) and (np.any(p < lo) or np.any(p > hi)):
                continue  # outside the frame: the frame points cover it
            if np.min(np.linalg.norm(buf[:n] - p, axis=1)) < min_dist:
                continue
            if kind == "forehead":
                follow_of[n] = forehead[i]
            buf[n] = p
            n += 1
            kinds.append(kind)
    points = buf[:n].copy()
    kinds_arr = np.array(kinds)
    head_idx = np.flatnonzero(kinds_arr == "head")
    below = ((points[head_idx] - centre) @ -up) / (head_ring_scale * half_h)  # 1 at the bottom of the ring
    head_jaw = JAW_FOLLOW * np.clip(below, 0.0, 1.0) ** 1.5

    topo = points.copy()
    topo[:68] = _opened_eyes(lm, iod, up)
    triangles = _triangulate(topo)
    sign = np.sign(_signed_areas(topo, triangles))
    triangles[sign < 0] = triangles[sign < 0][:, ::-1]  # all counter-clockwise in the opened layout
    interior = _interior(triangles)
    # the mouth opening may be degenerate (closed lips); anything else folded means the opened
    # layout was wrong for this face: fall back to plain Delaunay of the real points
    if np.any(_signed_areas(points, triangles)[~interior] < -0.02 * iod**2):
        from scipy.spatial import Delaunay

        triangles = Delaunay(points).simplices.astype(np.int32)
        interior = _interior(triangles)
    return Mesh(
        points=points,
        triangles=triangles,
        forehead=[(i, b, f) for i, (b, f) in follow_of.items()],
        head_ring=head_idx,
        head_jaw=head_jaw,
        fixed=np.flatnonzero(kinds_arr == "fixed"),
        interior=interior,
        iod=iod,
    )
