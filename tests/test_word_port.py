"""The phonemes encoder's aligned word timings reach hf-text through the declared ``words`` port,
whatever order the YAML lists the two encoders in (the runner orders encoders by their ports)."""

from pathlib import Path

import numpy as np
import pytest
from emoavatar.config import parse_config
from emoavatar.interfaces import RunContext
from emoavatar.ports import StageCaller
from emoavatar.registry import Registry
from emoavatar.testing.trivial import TRIVIAL_PIPELINE, TRIVIAL_SPECS
from emoavatar.types import Audio
from emoavatar.validate import validate_config

pytest.importorskip("emoavatar_phonemes")
spread_transcript = pytest.importorskip("emoavatar_hfspeech.text").spread_transcript

ROOT = Path(__file__).resolve().parents[1]
HELLO = ROOT / "plugins" / "encoders" / "phonemes" / "tests" / "data" / "hello_world.wav"
HELLO_TEXT = "Hello world, how are you today?"


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "how", "are", "you", "today"]
    (path / "vocab.txt").write_text("\n".join(vocab))
    BertTokenizerFast(vocab_file=str(path / "vocab.txt")).save_pretrained(path)
    BertModel(BertConfig(vocab_size=len(vocab), hidden_size=12, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=16)).save_pretrained(path)
    return path


@pytest.mark.slow
def test_phonemes_words_reach_hf_text_in_either_yaml_order(tiny_bert):
    audio = Audio.load(HELLO)
    text = {"use": "hf-text", "with": {"model": str(tiny_bert)}}
    seen = []
    for encoders in ([text, {"use": "phonemes"}], [{"use": "phonemes"}, text]):
        config = parse_config({**TRIVIAL_PIPELINE, "encoder": encoders})
        report = validate_config(config, Registry(extra=TRIVIAL_SPECS))
        assert report.ok, report.problems
        ctx = RunContext(fps=25.0, n_frames=audio.n_frames(25.0))
        features = StageCaller(report, Registry(extra=TRIVIAL_SPECS), ctx, {"input:transcript": HELLO_TEXT}).encode(audio)
        aligned = features["visemes"].ports["words"]
        assert [w for w, _, _ in aligned] == ["hello", "world", "how", "are", "you", "today"]
        out = features["text"]
        assert out.meta["timing"] == "port"
        assert [tuple(w) for w in out.meta["words"]] == [tuple(w) for w in aligned]
        assert [tuple(w) for w in out.meta["words"]] != spread_transcript(HELLO_TEXT, audio.duration)
        start, end = aligned[-1][1], aligned[-1][2]
        assert np.abs(out.values[int((start + end) / 2 * 25)]).sum() > 0  # "today" embedded in its frames
        seen.append(out.values)
    assert np.allclose(seen[0], seen[1])

