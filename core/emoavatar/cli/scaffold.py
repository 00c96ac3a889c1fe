"""`emoavatar new-plugin --kind KIND NAME`: a plugin skeleton that installs and passes the contract tests."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("new-plugin", help="write a working plugin skeleton", description=__doc__)
    p.add_argument("--kind", required=True, help="encoder, controller, motion, renderer, metric or face")
    p.add_argument("name", help="component name, e.g. my-renderer")
    p.add_argument("--dir", default=".", help="where to create emoavatar-plugin-NAME/ (default: here)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..scaffold import new_plugin

    root = new_plugin(args.kind, args.name, args.dir)
    print(f"wrote {root}\nnext: pip install -e {root} && pytest {root} && emoavatar plugins")
    return 0
