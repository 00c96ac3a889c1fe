"""Our real-size Net against the key/shape manifest dumped from Hallo's own module definitions.

``data/hallo_net_manifest.json.gz`` was generated in a scratch environment (Hallo's repository at HEAD,
its models built at configs/inference/default.yaml with SD-1.5's U-Net config, on the meta device):
``{key: shape}`` of the state_dict its ``net.pth`` is loaded into. Our Net is built on the meta
device too (no allocation)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import torch

MANIFEST = Path(__file__).parent / "data" / "hallo_net_manifest.json.gz"


def _manifest() -> dict:
    with gzip.open(MANIFEST, "rt") as f:
        return json.load(f)["keys"]


@pytest.fixture(scope="module")
def real_state():
    from emoavatar_diffusion.backbone import BackboneConfig, Net

    with torch.device("meta"):
        net = Net(BackboneConfig.real())
    return {k: list(v.shape) for k, v in net.state_dict().items()}


@pytest.mark.slow
def test_real_net_matches_hallo_layout_exactly_modulo_experts(real_state):
    from emoavatar_diffusion.backbone import is_expert_key

    hallo = _manifest()
    ours = {k: s for k, s in real_state.items() if not is_expert_key(k)}
    assert sorted(set(hallo) - set(ours)) == []
    assert sorted(set(ours) - set(hallo)) == []
    assert {k: (s, hallo[k]) for k, s in ours.items() if s != hallo[k]} == {}
    extra = sorted(k for k in real_state if is_expert_key(k))
    # 16 audio modules (3 down x 2, mid, 3 up x 3) x 6 experts, plus gates / norm / zero conv, plus the emotion token
    assert len([k for k in extra if k.endswith("experts.0.to_q.weight")]) == 16
    assert all(".moee." in k or k.startswith("moee_emotion.") for k in extra)


@pytest.mark.slow
def test_loader_accepts_hallo_layout_and_reports_expert_keys():
    """A checkpoint in Hallo's layout (tiny sizes, our own module names) loads; a stray or missing key is refused."""
    from emoavatar.errors import WeightsNotFoundError
    from emoavatar_diffusion.backbone import BackboneConfig, Net, is_expert_key, load_backbone_state

    net = Net(BackboneConfig.tiny())
    state = {k: torch.randn_like(v) for k, v in net.state_dict().items() if not is_expert_key(k)}
    extra = load_backbone_state(Net(BackboneConfig.tiny()), state)
    assert extra and all(is_expert_key(k) for k in extra)
    with pytest.raises(WeightsNotFoundError, match="1 unexpected"):
        load_backbone_state(Net(BackboneConfig.tiny()), {**state, "denoising_unet.bogus": torch.zeros(1)})
    key = next(iter(state))
    with pytest.raises(WeightsNotFoundError, match="1 missing"):
        load_backbone_state(Net(BackboneConfig.tiny()), {k: v for k, v in state.items() if k != key})
