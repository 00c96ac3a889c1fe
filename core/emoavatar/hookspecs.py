"""pluggy hooks for cross-cutting concerns only (DESIGN §2.7). Components are found through
entry points, not here. Hook implementations register under the entry-point group
``emoavatar.hooks`` (a module or object with ``@hookimpl`` functions)::

    from emoavatar.hookspecs import hookimpl

    @hookimpl
    def emoavatar_postprocess_frames(frames, start, context):
        return frames[..., ::-1]        # e.g. a colour filter; None = unchanged
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
    Implementations are chained in registration order."""


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


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide manager, with entry-point hook plugins loaded (failures are isolated)."""
    global _manager
    if _manager is None:
        import sys

        pm = pluggy.PluginManager(PROJECT)
        pm.add_hookspecs(sys.modules[__name__])
        from importlib import metadata

        for ep in metadata.entry_points().select(group="emoavatar.hooks"):
            try:
                pm.register(ep.load(), name=ep.name)
            except Exception as e:  # noqa: BLE001 - a broken hook plugin must not break runs
                import warnings

                from .strict import strict_mode

                if strict_mode():
                    from .errors import PluginError

                    raise PluginError(f"EMOAVATAR_STRICT is on and hook plugin {ep.name} failed to load: "
                                      f"{type(e).__name__}: {e}") from e
                warnings.warn(f"hook plugin {ep.name} failed to load: {e}", stacklevel=2)
        _manager = pm
    return _manager


def postprocess(pm: pluggy.PluginManager, frames: Any, start: int, context: Any) -> Any:
    """Chain ``emoavatar_postprocess_frames`` implementations over one chunk."""
    for impl in reversed(pm.hook.emoavatar_postprocess_frames.get_hookimpls()):
        out = impl.function(frames=frames, start=start, context=context)
        if out is not None:
            frames = out
    return frames
