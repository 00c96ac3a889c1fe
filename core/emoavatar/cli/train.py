"""`emoavatar train COMPONENT [ARGS...]`: run a trainer that a plugin registers under the
entry-point group ``emoavatar.trainers`` (a callable ``main(argv) -> int``)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a component (trainers come from plugins)", description=__doc__)
    p.add_argument("component", nargs="?", help="trainer name; omit to list them")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the trainer (see its --help)")
    p.set_defaults(func=run)


def trainers() -> dict:
    from importlib import metadata

    return {ep.name: ep for ep in metadata.entry_points().select(group="emoavatar.trainers")}


def run(args: argparse.Namespace) -> int:
    from ..errors import PluginError

    found = trainers()
    if not args.component:
        for name, ep in sorted(found.items()):
            print(f"{name:24s} {ep.value}")
        return 0
    if args.component not in found:
        raise PluginError(f"no trainer named {args.component!r}",
                          fix=f"installed trainers: {', '.join(sorted(found)) or 'none'}")
    try:
        main = found[args.component].load()
    except Exception as e:  # noqa: BLE001
        raise PluginError(f"trainer {args.component} cannot be imported: {type(e).__name__}: {e}") from e
    return int(main(list(args.args)) or 0)
