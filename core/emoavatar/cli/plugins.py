"""`emoavatar plugins [--doctor] [--kind KIND] [--json]`: what is installed, and its health.

Listing reads only the light specs; ``--doctor`` also imports every plugin's code.
"""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugins", help="list installed components", description=__doc__)
    p.add_argument("--doctor", action="store_true", help="also import each plugin's code and report failures")
    p.add_argument("--kind", help="only this kind (encoders, controllers, motion, renderers, metrics, faces, "
                   "spaces, trainers, hooks)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..registry import get_registry

    reg = get_registry()
    entries = (reg.doctor(args.kind) if args.doctor else reg.list()) + _hook_entries()
    if args.kind:
        entries = [e for e in entries if e.kind == args.kind]
    if args.json:
        print(json.dumps([{
            "name": e.name, "kind": e.kind, "distribution": e.distribution, "version": e.version,
            "status": e.status, "error": e.error,
            "consumes": list(getattr(e.spec, "consumes", ())) if e.spec else None,
            "produces": list(getattr(e.spec, "produces", ())) if e.spec else None,
        } for e in entries], indent=2))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table("name", "kind", "distribution", "version", "status", "ports", title="emoavatar plugins")
        for e in entries:
            ports = ""
            if e.kind == "spaces" and e.spec:
                ports = "tracks " + ", ".join(f"{t.name}[{','.join(map(str, t.shape))}]" for t in e.spec.tracks)
            elif e.kind == "trainers" and e.spec:
                ports = f"emoavatar train {e.name} -> {e.spec.target}"
            elif e.spec and hasattr(e.spec, "consumes"):
                ins = ", ".join(list(e.spec.consumes) + [f"{p}?" for p in e.spec.optional])
                ports = f"{ins or '-'} -> {', '.join(e.spec.produces) or '-'}"
            status = "[green]ok[/]" if e.ok else f"[red]broken[/]: {e.error}"
            table.add_row(e.name, e.kind, e.distribution, e.version, status, ports)
        Console(width=200 if not Console().is_terminal else None).print(table)
    broken = [e for e in entries if not e.ok]
    reg.check_strict()  # after the table: strict mode names the broken plugins in one error line
    return 1 if (args.doctor and broken) else 0


def _hook_entries() -> list:
    """Hook plugins refused at load (a misspelled hook, an import error), listed like broken plugins."""
    from ..hookspecs import BROKEN, get_plugin_manager
    from ..registry import PluginEntry

    get_plugin_manager()
    return [PluginEntry(name, "hooks", dist, version, "", None, error) for name, dist, version, error in BROKEN]
