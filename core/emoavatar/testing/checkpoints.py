"""Checking a loader of published weights against the published layout, without the weights.

A *manifest* is a JSON object ``{state-dict key: shape}`` dumped from the reference
implementation's own module definitions (outside this repository). A test then

1. builds our network and compares its state-dict keys and shapes with the manifest
   (:func:`manifest_diff` / :func:`assert_matches_manifest`);
2. builds a state dict with the manifest's keys and *deterministic* values
   (:func:`deterministic_state`), wraps it the way the published file is wrapped (prefixes,
   nesting) and loads it through the plugin's documented loading path;
3. where the reference's outputs on those deterministic weights were recorded, compares outputs.

The recipe is keyed by parameter name only, so the same values come out wherever the names are
the same: a ``torch.Generator`` seeded with ``crc32(name)`` draws uniform float32 numbers u in
[0, 1), mapped by the last name component: ``running_var`` -> [0.5, 1.5), ``running_mean`` and ``bias``
-> [-0.1, 0.1), other 0-/1-d tensors (norm scales, PReLU slopes) -> [0.75, 1.25), and weights
-> U(-b, b) with b = sqrt(6 / fan_in), as (2u - 1) b; ``num_batches_tracked`` is 0.
"""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path
from typing import Any


def read_manifest(path: str | Path) -> dict[str, list[int]]:
    """``{key: shape}`` from a manifest JSON (a ``"keys"`` member if the file has metadata too)."""
    data = json.loads(Path(path).read_text())
    return {k: list(v) for k, v in (data["keys"] if "keys" in data else data).items()}


def state_shapes(state: Any) -> dict[str, list[int]]:
    """``{key: shape}`` of a module's or a state dict's tensors."""
    if hasattr(state, "state_dict"):
        state = state.state_dict()
    return {k: list(v.shape) for k, v in state.items()}


def manifest_diff(state: Any, manifest: dict[str, list[int]]) -> list[str]:
    """Human-readable differences (missing, unexpected, wrong shape); empty when they match."""
    ours = state_shapes(state)
    out = [f"missing {k} {v}" for k, v in manifest.items() if k not in ours]
    out += [f"unexpected {k} {v}" for k, v in ours.items() if k not in manifest]
    out += [f"{k}: ours {ours[k]} vs reference {v}" for k, v in manifest.items() if k in ours and ours[k] != v]
    return out


def assert_matches_manifest(state: Any, manifest: dict[str, list[int]]) -> None:
    diff = manifest_diff(state, manifest)
    assert not diff, f"{len(diff)} difference(s) from the reference layout: {diff[:8]}"


def deterministic_tensor(name: str, shape: list[int] | tuple[int, ...]):
    """The recipe's value for parameter ``name`` (see the module docstring)."""
    import torch

    shape = tuple(int(s) for s in shape)
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "num_batches_tracked":
        return torch.zeros(shape, dtype=torch.int64)
    g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    u = torch.rand(shape, generator=g, dtype=torch.float32)
    if leaf == "running_var":
        return u.add_(0.5)
    if leaf in ("running_mean", "bias"):
        return u.sub_(0.5).mul_(0.2)
    if len(shape) <= 1:
        return u.mul_(0.5).add_(0.75)
    return u.mul_(2).sub_(1).mul_(math.sqrt(6.0 / max(1, math.prod(shape[1:]))))


def deterministic_state(manifest: dict[str, list[int]], rename: dict[str, str] | None = None) -> dict:
    """A state dict with the manifest's keys; ``rename`` maps a key to the name whose recipe it uses
    (e.g. a published ``fc_param.weight`` that the reference module loads as ``fc.weight``)."""
    rename = rename or {}
    return {k: deterministic_tensor(rename.get(k, k), v) for k, v in manifest.items()}
