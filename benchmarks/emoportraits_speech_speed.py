"""EMOPortraits speech mode (``emoportraits-speech``) speed: microseconds per frame of the audio regressor
and of composing z / pose (mouth subspace + emotion directions), at the trainer's default size (K = 8 mouth
components, hidden 64, 20 feature columns = visemes 15 + prosody 5, z of 128). Generation also embeds the
portrait once with the stage-1 model (see emoportraits_speed.py: "driver encoders per frame").

    .venv/bin/python benchmarks/emoportraits_speech_speed.py [--frames 250 2500] [--threads 1] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import torch
from emoavatar_emoportraits.speech import compose
from emoavatar_emoportraits.speech_model import SpeechMode, SpeechRegressor


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, nargs="+", default=[250, 2500])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    d, k, z = 20, 8, 128
    basis = torch.linalg.qr(torch.randn(z, k))[0].T.contiguous()
    stats = {"mu": torch.zeros(z), "mouth_basis": basis, "mouth_std": torch.ones(k), "directions": torch.randn(8, z),
             "feature_mean": torch.zeros(d), "feature_std": torch.ones(d), "pose_std": torch.ones(9)}
    mode = SpeechMode(SpeechRegressor(d, k).eval().to(a.device), {n: v.to(a.device) for n, v in stats.items()},
                      [("visemes", 15), ("prosody", 5)])
    z_s, pose_s = torch.randn(z, device=a.device), torch.randn(9, device=a.device)
    for n in a.frames:
        x = torch.randn(1, n, d, device=a.device)
        offset = torch.randn(n, z, device=a.device)
        with torch.no_grad():
            mode.predict(x)
            times = []
            for _ in range(a.repeat):
                t = time.perf_counter()
                mouth, dpose = mode.predict(x)
                compose(mode, z_s, pose_s, mouth[0], dpose[0], offset)
                times.append(time.perf_counter() - t)
        best = min(times)
        print(f"frames {n}: {best * 1e3:.1f} ms, {best / n * 1e6:.0f} us/frame (best of {a.repeat}, {a.threads} thread(s))")


if __name__ == "__main__":
    main()
