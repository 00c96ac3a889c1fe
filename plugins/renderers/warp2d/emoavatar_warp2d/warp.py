"""Piecewise-affine backward warp: one affine map per triangle, rasterised into a per-pixel
source-coordinate map and applied with ``cv2.remap``.

For a target triangle with corners ``q_i`` and source corners ``p_i`` the backward map is the
affine ``A`` with ``A [q_i; 1] = p_i`` (barycentric interpolation of the corners). Pixels are
assigned to triangles by rasterising the triangle index (``cv2.fillConvexPoly``), then the six
affine coefficients are gathered per pixel, so the whole map is a few vectorised numpy ops.
Triangles whose corners do not move are skipped: outside their bounding box the frame is a copy.
"""

from __future__ import annotations

import cv2
import numpy as np

SHIFT = 4  # fixed-point bits for sub-pixel rasterisation
EPS = 1e-3  # px: corners closer than this to their source position count as unmoved


def triangle_affines(src: np.ndarray, dst: np.ndarray, tris: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Backward affines ``[K, 2, 3]`` (target -> source) and a validity mask (non-degenerate target).

    In closed form (Cramer's rule on the edge vectors, ~10x a batched ``np.linalg.solve``): with
    target edges ``e1 = q1 - q0``, ``e2 = q2 - q0`` and source edges ``f1``, ``f2`` the linear part is
    ``L = [f1 f2] [e1 e2]^-1`` and the translation ``p0 - L q0``."""
    q = dst[tris]  # [K, 3, 2]
    p = src[tris]
    e1, e2 = q[:, 1] - q[:, 0], q[:, 2] - q[:, 0]
    f1, f2 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]  # twice the signed area
    ok = np.abs(det) > 1e-6
    inv = 1.0 / np.where(ok, det, 1.0)
    out = np.empty((len(tris), 2, 3))
    lx = (f1 * e2[:, 1:] - f2 * e1[:, 1:]) * inv[:, None]  # [K, 2]: d source / d target x
    ly = (f2 * e1[:, :1] - f1 * e2[:, :1]) * inv[:, None]  # d source / d target y
    out[:, :, 0], out[:, :, 1] = lx, ly
    out[:, :, 2] = p[:, 0] - lx * q[:, 0, :1] - ly * q[:, 0, 1:]
    return out, ok


def moving_triangles(src: np.ndarray, dst: np.ndarray, tris: np.ndarray) -> np.ndarray:
    moved = np.abs(dst - src).max(1) > EPS
    return moved[tris].any(1)


def build_map(src: np.ndarray, dst: np.ndarray, tris: np.ndarray, order: np.ndarray, height: int, width: int,
              scale: float = 1.0) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray] | None:
    """Backward map of the region that moves: ``(x0, y0, x1, y1), map_x, map_y`` (float32, the
    bbox's size) or ``None`` when nothing moves. ``order`` lists triangle indices in drawing order
    (later ones win where folded triangles overlap)."""
    active = moving_triangles(src, dst, tris)
    order = np.asarray(order)
    drawn = order[active[order]]
    affines, ok = triangle_affines(src, dst, tris[drawn])  # only the triangles that are drawn
    drawn, affines = drawn[ok], affines[ok]
    if not len(drawn):
        return None
    corners = dst[tris[drawn]].reshape(-1, 2)
    x0, y0 = np.floor(corners.min(0)).astype(int) - 1
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 <= x0 or y1 <= y0:
        return None
    bw, bh = x1 - x0, y1 - y0
    sw, sh = max(2, round(bw * scale)), max(2, round(bh * scale))
    sx, sy = bw / sw, bh / sh  # target px per map cell
    small = len(drawn) < 256  # ids fit in uint8: gathered with cv2.LUT (a table look-up, ~2.5x np.take)
    ids = np.zeros((sh, sw), np.uint8 if small else np.int32)  # 0 = identity, k = the k-th drawn triangle
    # map-grid coords of target corners: cell (i, j) samples target (x0 + (j + .5) sx - .5, ...)
    grid = (dst - [x0 - 0.5 * (1 - sx), y0 - 0.5 * (1 - sy)]) / [sx, sy]
    polys = np.round(grid * (1 << SHIFT)).astype(np.int32)[tris[drawn]]  # [D, 3, 2]
    fill = cv2.fillConvexPoly
    for k, poly in enumerate(polys, start=1):  # positional arguments: ~20 % less call overhead per triangle
        fill(ids, poly, k, cv2.LINE_8, SHIFT)
    table = np.concatenate([np.array([[1.0, 0, 0], [0, 1.0, 0]])[None], affines], axis=0)
    cols = np.zeros((6, 256 if small else len(table)), np.float32)  # [6, K + 1] coefficient columns
    cols[:, :len(table)] = table.reshape(len(table), 6).T
    if small:
        luts = [np.ascontiguousarray(c[:, None]) for c in cols]

        def gather(c: int, out: np.ndarray | None = None) -> np.ndarray:
            return cv2.LUT(ids, luts[c], dst=out)
    else:
        idx = ids.astype(np.intp)  # once, not in each take below

        def gather(c: int, out: np.ndarray | None = None) -> np.ndarray:
            return np.take(cols[c], idx, out=out)
    xs = (x0 - 0.5 * (1 - sx) + np.arange(sw, dtype=np.float32) * sx).astype(np.float32)[None, :]
    ys = (y0 - 0.5 * (1 - sy) + np.arange(sh, dtype=np.float32) * sy).astype(np.float32)[:, None]
    # map = A[id] @ (x, y, 1): gathered one coefficient at a time (contiguous, in place)
    map_x, map_y = gather(0), gather(3)
    map_x *= xs
    map_y *= xs
    tmp = gather(1)
    tmp *= ys
    map_x += tmp
    gather(4, tmp)
    tmp *= ys
    map_y += tmp
    map_x += gather(2, tmp)
    map_y += gather(5, tmp)
    if (sw, sh) != (bw, bh):
        map_x = cv2.resize(map_x, (bw, bh), interpolation=cv2.INTER_LINEAR)
        map_y = cv2.resize(map_y, (bw, bh), interpolation=cv2.INTER_LINEAR)
    return (x0, y0, x1, y1), map_x, map_y


def warp(image: np.ndarray, bbox: tuple[int, int, int, int], map_x: np.ndarray, map_y: np.ndarray,
         out: np.ndarray | None = None) -> np.ndarray:
    """The portrait with the bbox region resampled through the backward map (into ``out`` if given)."""
    x0, y0, x1, y1 = bbox
    if out is None:
        out = np.empty_like(image)
    # copy only what the remap below does not overwrite: the rows above and below the region and
    # the columns beside it (each pixel written once)
    out[:y0] = image[:y0]
    out[y1:] = image[y1:]
    out[y0:y1, :x0] = image[y0:y1, :x0]
    out[y0:y1, x1:] = image[y0:y1, x1:]
    # drawn straight into the frame's region (no temporary of the region's size)
    region = out[y0:y1, x0:x1]
    drawn = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, dst=region, borderMode=cv2.BORDER_REPLICATE)
    if drawn is not region:  # OpenCV allocated its own (an ``out`` layout it cannot write into)
        region[...] = drawn
    return out
