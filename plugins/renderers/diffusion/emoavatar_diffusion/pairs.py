"""Paired-emotion training for stage 2: the same speech rendered (or recorded) in several emotions.

When clips share their audio frame for frame (as MEAD's design does sentence for sentence, and as the
test clips do exactly), a training step can take the *same* window, noise and timestep from every clip of
the group. The part of the target that the speech and head motion decide is then common to all of them
and cancels in the differences between clips; what is left is what the emotion changes, which is all the
experts are meant to learn (stage 2 freezes everything else)::

    L = mean_i |v_i - v*_i|^2 + w * mean_i |(v_i - mean_j v_j) - (v*_i - mean_j v*_j)|^2     # i, j: clips of a group

The second term trains the experts on the emotion difference with the speech variance removed; on the test
clips the mouth's speech-driven variance is ~4x its happy-vs-surprised difference (README), which the plain
loss has to average out and, within stage 2's steps, does not.
"""

from __future__ import annotations

import numpy as np
import torch

from .data import Clip


def pair_groups(clips: list[Clip]) -> list[list[int]]:
    """Indices of clips grouped by identical per-frame audio (same length, same features)."""
    groups: list[list[int]] = []
    for i, c in enumerate(clips):
        for g in groups:
            first = clips[g[0]]
            if first.audio.shape == c.audio.shape and np.array_equal(first.audio, c.audio):
                g.append(i)
                break
        else:
            groups.append([i])
    return groups


def paired_loss(preds: list[torch.Tensor], targets: list[torch.Tensor], weight: float) -> torch.Tensor:
    """Plain v-MSE over the clips plus ``weight`` x the MSE of their deviations from the group mean."""
    p, t = torch.stack(preds), torch.stack(targets)
    plain = torch.nn.functional.mse_loss(p, t)
    if len(preds) < 2 or weight == 0:
        return plain
    return plain + weight * torch.nn.functional.mse_loss(p - p.mean(0, keepdim=True), t - t.mean(0, keepdim=True))
