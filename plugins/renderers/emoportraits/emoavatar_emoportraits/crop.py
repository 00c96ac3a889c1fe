"""Portrait crop for the stage-1 model, from our FaceAnalyzer's box.

The authors crop around a MediaPipe face box (top edge raised, bottom lowered by 20 %) with a square of
side ``box width + box height`` centred on the box, shrunk to stay inside the image, then resize it
bicubically to 512. We do the same around the FaceAnalyzer's box (dlib: brows to chin, a little tighter
than MediaPipe's), so ``crop_scale`` lets a user widen it. They also cut the background out of the
source with a face-parsing network (and MODNet matting); we keep the whole crop (see README).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def square_crop(box: tuple[float, float, float, float], width: int, height: int, scale: float = 1.0
                ) -> tuple[int, int, int]:
    """(x0, y0, side) of the square crop around ``box`` that fits inside a ``width`` x ``height`` image."""
    x0, y0, x1, y1 = box
    cx, cy = int(round((x0 + x1) / 2)), int(round((y0 + y1) / 2))
    side = int(round(((x1 - x0) + (y1 - y0)) * scale))
    side -= side % 2
    over = max(0, side // 2 - cx, side // 2 - cy, cx + side // 2 - width, cy + side // 2 - height)
    side = max(2, side - 2 * over)
    return cx - side // 2, cy - side // 2, side


def crop_tensor(image: np.ndarray, crop: tuple[int, int, int], size: int) -> torch.Tensor:
    """uint8 RGB [H, W, 3] -> float [1, 3, size, size] in [0, 1] (bicubic, clipped)."""
    x0, y0, side = crop
    patch = torch.from_numpy(np.ascontiguousarray(image[y0:y0 + side, x0:x0 + side])).permute(2, 0, 1)[None]
    patch = patch.float() / 255.0
    return F.interpolate(patch, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)


def portrait_crop(portrait, size: int, scale: float = 1.0) -> torch.Tensor:
    """The portrait as the model sees it (the renderer's source, the generators' reference): its square crop
    around the FaceAnalyzer's box, [1, 3, size, size] in [0, 1]."""
    return crop_tensor(portrait.image, square_crop(portrait.face.box, portrait.width, portrait.height, scale), size)


def to_uint8(frames: torch.Tensor) -> np.ndarray:
    """[N, 3, S, S] in [0, 1] -> uint8 [N, S, S, 3]."""
    return (frames.clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
