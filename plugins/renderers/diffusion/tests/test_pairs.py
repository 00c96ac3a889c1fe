"""The paired-emotion loss of stage 2 (pairs.py)."""

from __future__ import annotations

import numpy as np
import torch
from emoavatar_diffusion.data import Clip
from emoavatar_diffusion.pairs import pair_groups, paired_loss


def _clip(audio: np.ndarray, name: str) -> Clip:
    n = len(audio)
    return Clip(np.zeros((n, 8, 8, 3), np.uint8), audio, np.zeros((68, 2), np.float32), np.zeros((n, 6), np.float32), name)


def test_pair_groups_joins_clips_with_the_same_audio_only():
    a, b = np.arange(12, dtype=np.float32).reshape(6, 2), np.ones((6, 2), np.float32)
    clips = [_clip(a, "happy"), _clip(b, "other"), _clip(a.copy(), "surprised"), _clip(a[:5], "shorter")]
    assert pair_groups(clips) == [[0, 2], [1], [3]]


def test_paired_loss_scores_the_emotion_difference_without_the_shared_part():
    g = torch.Generator().manual_seed(0)
    shared, diff = torch.randn(4, 4, 8, 8, generator=g), torch.randn(4, 4, 8, 8, generator=g)
    targets = [shared + diff, shared - diff]
    # a prediction that misses the shared (speech) part but has the emotion difference right
    right_diff = [diff, -diff]
    # one that has the shared part right but no emotion difference
    no_diff = [shared, shared]
    plain = torch.nn.functional.mse_loss
    assert paired_loss(right_diff, targets, 0.0) == plain(torch.stack(right_diff), torch.stack(targets))
    # the difference term is 0 for the first and |diff|^2 for the second
    extra_right = paired_loss(right_diff, targets, 1.0) - paired_loss(right_diff, targets, 0.0)
    extra_none = paired_loss(no_diff, targets, 1.0) - paired_loss(no_diff, targets, 0.0)
    assert abs(float(extra_right)) < 1e-6
    assert torch.isclose(extra_none, (diff ** 2).mean(), rtol=1e-4)
    assert paired_loss([shared], [shared + diff], 5.0) == plain(shared[None], (shared + diff)[None])  # a lone clip
