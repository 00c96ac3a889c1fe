"""Inputs of the EmoHead demo: a small face crop of the demo portrait and a few sentences of
speech, for training EmoHead on videos that the default pipeline renders.

Used by ``examples/train_emohead.sh`` (``python -m emoavatar_emohead.demo OUT_DIR``) and by the
end-to-end test, so both train on the same material::

    inputs = prepare_inputs("out/emohead", examples="examples", size=160)
    inputs.portrait                      # OUT/portrait.png, size x size
    inputs.sentences["s1"]               # (OUT/audio/s1.wav, "Hello there! I am a talking head.")
"""

from __future__ import annotations

import argparse
import sys
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The face in ``examples/portrait.png`` (512x512): rows y0:y1, columns x0:x1 (192x192).
FACE_CROP = (28, 220, 124, 316)
#: Sentences cut from ``examples/speech.wav`` at its pauses: name -> (start s, end s, words).
SPEECH_SENTENCES = {
    "s1": (0.0, 2.9, "Hello there! I am a talking head."),
    "s2": (2.9, None, "Today, I will show you how I feel."),
}
#: The test kit's 2 s sentence (``emoavatar.testing.data.kit_speech_path()``).
KIT_SENTENCE = ("kit", "Hello, how are you?")


@dataclass
class DemoInputs:
    portrait: Path
    sentences: dict[str, tuple[Path, str]]  # name -> (16 kHz WAV, transcript)


def write_wav(path: Path, samples: np.ndarray, sample_rate: int = 16000) -> Path:
    """Mono float samples in [-1, 1] -> 16-bit PCM WAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    return path


def prepare_inputs(out_dir: str | Path, examples: str | Path = "examples", size: int = 160,
                   kit_sentence: bool = True) -> DemoInputs:
    """Write ``OUT/portrait.png`` (the face crop resized to ``size``) and ``OUT/audio/<name>.wav``."""
    import cv2
    from emoavatar.media import read_image, write_image
    from emoavatar.types import Audio

    out, examples = Path(out_dir), Path(examples)
    out.mkdir(parents=True, exist_ok=True)
    y0, y1, x0, x1 = FACE_CROP
    face = read_image(examples / "portrait.png")[y0:y1, x0:x1]
    if face.shape[0] != size:
        face = cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)
    portrait = out / "portrait.png"
    write_image(portrait, np.ascontiguousarray(face))
    speech = Audio.load(examples / "speech.wav")
    rate = int(speech.sample_rate)
    samples = speech.samples
    sentences: dict[str, tuple[Path, str]] = {}
    for name, (start, end, words) in SPEECH_SENTENCES.items():
        piece = samples[int(start * rate): None if end is None else int(end * rate)]
        sentences[name] = (write_wav(out / "audio" / f"{name}.wav", piece, rate), words)
    if kit_sentence:
        from emoavatar.testing.data import kit_speech_path

        sentences[KIT_SENTENCE[0]] = (Path(kit_speech_path()), KIT_SENTENCE[1])
    return DemoInputs(portrait, sentences)


def main(argv: list[str] | None = None) -> int:
    """``python -m emoavatar_emohead.demo OUT [--examples DIR] [--size PX]``: prints ``name<TAB>wav<TAB>words``."""
    p = argparse.ArgumentParser(prog="python -m emoavatar_emohead.demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", help="folder for portrait.png and audio/*.wav")
    p.add_argument("--examples", default="examples", help="folder with portrait.png and speech.wav")
    p.add_argument("--size", type=int, default=160, help="portrait side in pixels (default 160)")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    inputs = prepare_inputs(args.out, args.examples, args.size)
    for name, (wav, words) in inputs.sentences.items():
        print(f"{name}\t{wav}\t{words}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
