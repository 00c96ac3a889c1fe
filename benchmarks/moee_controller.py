"""Speed of the ``moee`` controller: milliseconds per video frame for each kind of request.

Prints one JSON line per request: ``{"request", "frames", "ms_per_frame" (best of N), "first_ms"}``
(``first_ms`` includes building the model and, for text, loading the encoder and the anchors).

    .venv/bin/python benchmarks/moee_controller.py [--seconds 10] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
from emoavatar.emotions import parse_emotion
from emoavatar.interfaces import RunContext
from emoavatar.registry import get_registry
from emoavatar.types import AudioFeatures

REQUESTS = {
    "label": "happy",
    "compound": {"happy": 0.6, "surprised": 0.4},
    "timeline": [{"at": 0, "emotion": "sad"}, {"at": 4, "emotion": "angry"}],
    "regions": {"emotion": "neutral", "regions": {"mouth": "happy", "brows": "surprised"}},
    "au_prompt": "AU6+AU12, strong",
    "text": {"text": "I can't stop smiling today"},
    "from_audio": "from_audio",
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    ctx = RunContext(fps=25.0, n_frames=int(args.seconds * 25))
    prosody = AudioFeatures(np.random.default_rng(0).random((ctx.n_frames, 5)), "prosody", 25.0)
    controller = get_registry().create("controllers", "moee")
    for name, spec in REQUESTS.items():
        request = parse_emotion(spec)
        features = {"features:prosody": prosody}
        times = []
        for _ in range(args.repeats + 1):
            t = time.perf_counter()
            with warnings.catch_warnings():  # from_audio untrained: a warning per call
                warnings.simplefilter("ignore")
                controller.control(request, features, ctx)
            times.append(time.perf_counter() - t)
        print(json.dumps({"request": name, "frames": ctx.n_frames, "first_ms": round(times[0] * 1000, 1),
                          "ms_per_frame": round(min(times[1:]) * 1000 / ctx.n_frames, 3)}), flush=True)


if __name__ == "__main__":
    main()
