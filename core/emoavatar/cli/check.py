"""`emoavatar validate PIPELINE.yaml` and `emoavatar schema`: check a pipeline without loading
any model; export the JSON Schema of pipeline files for editors."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check a pipeline YAML without loading models")
    p.add_argument("pipeline")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override an option")
    p.add_argument("--emotion", help="also check this emotion request")
    p.set_defaults(func=validate)
    s = sub.add_parser("schema", help="print the JSON Schema of pipeline YAML files (with installed components)")
    s.add_argument("-o", "--output", help="write to this file instead of stdout")
    s.set_defaults(func=schema)


def validate(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..emotions import parse_emotion
    from ..validate import validate_config

    cfg = load_config(args.pipeline, args.set)
    report = validate_config(cfg, inputs=True)
    if args.emotion is not None:
        try:
            parse_emotion(args.emotion)
        except Exception as e:  # noqa: BLE001 - EmotionError is reported below
            report.problems.append(e)
    if report.problems:
        for e in report.problems:
            print(f"error: {e}", file=sys.stderr)
        return 2
    chain = " -> ".join(f"{c.spec.name}" for c in report.components if c.kind not in ("faces", "metrics"))
    print(f"ok: {args.pipeline}: {chain}")
    return 0


def schema(args: argparse.Namespace) -> int:
    from ..schema import pipeline_schema

    text = json.dumps(pipeline_schema(), indent=2)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    else:
        print(text)
    return 0
