"""`emoavatar train COMPONENT [ARGS...]`: run a trainer that a plugin registers under the
entry-point group ``emoavatar.trainers``: a :class:`~emoavatar.spec.TrainerSpec` in a light spec
module, or a callable ``main(argv) -> int``. Trainers are registry components (``trainers``):
listed by ``emoavatar plugins``, imported by ``--doctor``, refused outside their API range."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a component (trainers come from plugins)", description=__doc__)
    p.add_argument("component", nargs="?", help="trainer name; omit to list them")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the trainer (see its --help)")
    p.set_defaults(func=run)


def trainers() -> dict:
    """Trainer name -> registry entry (healthy or broken)."""
    from ..registry import get_registry

    return {e.name: e for e in get_registry().list("trainers")}


def run(args: argparse.Namespace) -> int:
    from ..errors import PluginError

    found = trainers()
    if not args.component:
        for name, e in sorted(found.items()):
            what = e.spec.summary if e.ok and e.spec.summary else e.target
            print(f"{name:24s} {e.distribution:36s} {what}" + ("" if e.ok else f"  [broken: {e.error}]"))
        return 0
    if args.component not in found:
        raise PluginError(f"no trainer named {args.component!r}",
                          fix=f"installed trainers: {', '.join(sorted(found)) or 'none'}")
    entry = found[args.component]
    if not entry.ok:
        raise PluginError(entry.describe_error(), fix="`emoavatar plugins --doctor` shows details")
    try:
        main = entry.spec.load_class()
    except PluginError as e:
        raise PluginError(f"trainer {args.component} cannot be imported: {e.message}") from e
    return int(main(list(args.args)) or 0)
