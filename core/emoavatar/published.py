"""Registry support for the two published kinds that are not pipeline stages.

- ``spaces`` (group ``emoavatar.spaces``): an entry point names a
  :class:`~emoavatar.spaces.MotionSpace` in a light module.
- ``trainers`` (group ``emoavatar.trainers``): an entry point names either a
  :class:`~emoavatar.spec.TrainerSpec` in a light module whose name ends in ``spec``
  (``pkg.spec:TRAINER``; loaded when listing, its API range checked), or, as before, a
  ``main(argv) -> int`` callable (``pkg.train:main``; not imported until the trainer runs or
  ``emoavatar plugins --doctor``, so it cannot declare an API range).

Both are listed by ``emoavatar plugins`` and isolated like other plugins: a broken one is listed
with its error.
"""

from __future__ import annotations

from typing import Any, Callable

from .errors import PluginError
from .spec import API_VERSION, TrainerSpec, api_supported


def _check_api(api: str) -> None:
    try:
        ok = api_supported(api)
    except Exception:  # noqa: BLE001
        raise PluginError(f"invalid api range {api!r}") from None
    if not ok:
        raise PluginError(f"supports core API {api} but this core is {API_VERSION}")


class _Checker:
    """What a published kind's entry point must name: an instance of ``cls()`` (imported lazily)
    whose ``name`` is the entry point's and whose ``api`` range this core satisfies."""

    def __init__(self, word: str, cls: Callable[[], type]) -> None:
        self.word, self.cls = word, cls

    def check(self, obj: Any, name: str) -> Any:
        cls = self.cls()
        if not isinstance(obj, cls):
            raise PluginError(f"entry point must name a {cls.__name__}, got {type(obj).__name__}")
        if obj.name != name:
            raise PluginError(f"{self.word} is named {obj.name!r} but registered as {name!r}")
        _check_api(obj.api)
        return obj


def _motion_space() -> type:
    from .spaces import MotionSpace

    return MotionSpace


PUBLISHED_KINDS = {"spaces": _Checker("space", _motion_space), "trainers": _Checker("trainer", lambda: TrainerSpec)}


def _is_light(value: str) -> bool:
    """``pkg.spec:TRAINER`` (a light spec module) as opposed to ``pkg.train:main``."""
    module = value.partition(":")[0]
    return module.rsplit(".", 1)[-1].endswith("spec")


def discover_published(entries: dict, eps: Any) -> None:
    """Add ``spaces`` and ``trainers`` entries (see module doc) to the registry's ``entries``."""
    from .registry import claim_entry

    for kind, checker in PUBLISHED_KINDS.items():
        for ep in eps.select(group="emoavatar." + kind):
            entry = claim_entry(entries, kind, ep)
            if entry is None:
                continue
            try:
                if kind == "trainers" and not _is_light(ep.value):
                    entry.spec = TrainerSpec(ep.name, ep.value, summary="main(argv) entry point")
                    continue
                obj = ep.load()
                if kind == "trainers" and callable(obj) and not isinstance(obj, TrainerSpec):
                    obj = TrainerSpec(ep.name, ep.value, summary="main(argv) entry point")
                entry.spec = checker.check(obj, ep.name)
            except Exception as e:  # noqa: BLE001 - isolate any plugin failure
                entry.error = e.message if isinstance(e, PluginError) else f"{type(e).__name__}: {e}"
                # strict mode reports it once, by name: Registry.check_strict


def doctor_entry(entry: Any) -> None:
    """Import what an entry will need at run time (factories, trainer targets); PluginError if broken."""
    load = getattr(entry.spec, "load_class", None)
    if callable(load):
        obj = load()
        if entry.kind == "trainers" and not callable(obj):
            raise PluginError(f"trainers/{entry.name}: {entry.spec.target} is not callable")
