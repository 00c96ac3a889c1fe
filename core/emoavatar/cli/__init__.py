"""`emoavatar` command line. Each command lives in its own module with ``register(subparsers)``.

User errors (:class:`~emoavatar.errors.EmoAvatarError`) print one line and exit non-zero;
``--debug`` shows the traceback. Imports stay lazy so `emoavatar plugins` answers fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = (
    "emoavatar.cli.run", "emoavatar.cli.plugins", "emoavatar.cli.check", "emoavatar.cli.scaffold",
    "emoavatar.cli.train", "emoavatar.evaluation.cli", "emoavatar.cli.batch", "emoavatar.cli.ui",
)


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="emoavatar", description="Emotional talking-head videos from a portrait, speech and an emotion.")
    parser.add_argument("--version", action="version", version=f"emoavatar {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.set_defaults(_subparsers=sub)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        module.register(sub)
    try:
        from ..hookspecs import get_plugin_manager

        get_plugin_manager().hook.emoavatar_cli_commands(subparsers=sub)
    except Exception as e:  # noqa: BLE001 - a broken hook plugin must not break the CLI
        print(f"warning: a hook plugin's commands failed to load: {e}", file=sys.stderr)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..errors import EmoAvatarError

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # a command's own usage, not the top-level one
        sub = getattr(args, "_subparsers", None)
        cmd = sub.choices.get(args.command) if sub is not None and args.command else None
        (cmd or parser).error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except EmoAvatarError as e:
        if args.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt as e:  # SIGINT; SIGTERM/SIGHUP during a run arrive as emoavatar.output.Interrupted
        signum = getattr(e, "signum", 2)
        print(f"interrupted ({'SIGINT' if signum == 2 else str(e)})", file=sys.stderr)
        return 128 + signum


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
