"""pluggy hooks for cross-cutting concerns only (docs/architecture.md, "Hooks"). Components are
found through entry points, not here. Hook implementations register under the entry-point group
``emoavatar.hooks`` (a module or object with ``@hookimpl`` functions)::

    from emoavatar.hookspecs import hookimpl

    @hookimpl
    def emoavatar_postprocess_frames(frames):      # any subset of the arguments
        return frames[..., ::-1]        # e.g. a colour filter; None = unchanged

Every hook is called through pluggy, so its rules hold: an implementation may take any subset of
the hook's arguments; implementations run last-registered first (entry points register in the
order ``importlib.metadata`` lists them), ``@hookimpl(tryfirst=True)`` / ``trylast`` move one;
``@hookimpl(wrapper=True)`` wrappers run around each call. A hook plugin that implements a hook
that does not exist (a misspelling) is refused by ``check_pending()`` and reported as a broken
plugin (``emoavatar plugins``), like any other.
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "emoavatar"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def emoavatar_run_start(config: Any, context: Any) -> None:
    """A run is about to render; ``config`` is the resolved PipelineConfig."""


@hookspec
def emoavatar_postprocess_frames(frames: Any, start: int, context: Any) -> Any:
    """Return new uint8 ``[N,H,W,3]`` frames for the chunk starting at frame ``start``, or None.
    Implementations are chained in pluggy's call order (last registered first): each receives the
    frames the previous one returned."""


@hookspec
def emoavatar_progress(stage: str, done: int, total: int) -> None:
    """Progress of a stage (``render`` counts frames)."""


@hookspec
def emoavatar_run_end(result: Any, context: Any) -> None:
    """The output was written; ``result`` is the RunResult."""


@hookspec
def emoavatar_cli_commands(subparsers: Any) -> None:
    """Add argparse subcommands: ``p = subparsers.add_parser(...); p.set_defaults(func=handler)``,
    ``handler(args) -> int``."""


_manager: pluggy.PluginManager | None = None
#: hook plugins refused at load: (entry-point name, distribution, version, error)
BROKEN: list[tuple[str, str, str, str]] = []


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    import warnings
    from importlib import metadata

    from .errors import PluginError

    for ep in metadata.entry_points().select(group="emoavatar.hooks"):
        dist = ep.dist.metadata["Name"] if ep.dist is not None else "?"
        version = ep.dist.version if ep.dist is not None else "?"
        plugin = None
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
            pm.check_pending()  # an @hookimpl for a hook that does not exist (misspelled)
        except Exception as e:  # noqa: BLE001 - a broken hook plugin must not break runs
            if plugin is not None and pm.is_registered(plugin):
                pm.unregister(plugin)
            error = f"{type(e).__name__}: {e}"
            BROKEN.append((ep.name, dist, version, error))
            message = f"hook plugin {ep.name} ({dist} {version}) is broken: {error}"
            from .strict import strict_mode

            if strict_mode():
                raise PluginError("EMOAVATAR_STRICT is on and " + message) from e
            warnings.warn(message, stacklevel=3)


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide manager, with entry-point hook plugins loaded (failures are isolated)."""
    global _manager
    if _manager is None:
        import sys

        pm = pluggy.PluginManager(PROJECT)
        pm.add_hookspecs(sys.modules[__name__])
        _load_entry_points(pm)
        _manager = pm
    return _manager


def postprocess(pm: pluggy.PluginManager, frames: Any, start: int, context: Any) -> Any:
    """Chain ``emoavatar_postprocess_frames`` over one chunk: each implementation is called through
    pluggy (its own argument subset, wrappers around it), in pluggy's order, on the previous result."""
    name = "emoavatar_postprocess_frames"
    plain = [i for i in getattr(pm.hook, name).get_hookimpls()
             if not (getattr(i, "hookwrapper", False) or getattr(i, "wrapper", False))]
    for impl in reversed(plain):  # pluggy calls the last registered first
        others = {i.plugin for i in plain if i is not impl}
        out = pm.subset_hook_caller(name, remove_plugins=others)(frames=frames, start=start, context=context)
        if out:
            frames = out[0]
    return frames
