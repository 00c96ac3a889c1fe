"""`emoavatar ui`: the web UI (Gradio; `pip install "emoavatar[ui]"`), on 127.0.0.1 unless --host says otherwise."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ui", help="web UI: upload a portrait and speech, pick an emotion, render", description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--pipeline", action="append", default=[], metavar="YAML",
                   help="a pipeline to start from (repeatable; default: the YAMLs in ./examples)")
    p.add_argument("--outdir", help="where rendered videos go (default: a new temporary folder)")
    p.add_argument("--concurrency", type=int, default=1, help="renders running at once (others wait in the queue)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError

    try:
        import gradio  # noqa: F401
    except ImportError:
        raise ConfigError("the web UI needs Gradio", fix='pip install "emoavatar[ui]"') from None
    pipelines = [Path(p) for p in args.pipeline] or sorted(Path("examples").glob("*.yaml"))
    for p in pipelines:
        if not p.is_file():
            raise ConfigError(f"pipeline file not found: {p}")
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port must be 1-65535, got {args.port}")
    if args.concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    from ..ui.app import launch

    print(f"emoavatar ui on http://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
    launch(pipelines, args.host, args.port, Path(args.outdir) if args.outdir else None, args.concurrency)
    return 0
