"""Plugin discovery over the entry-point groups ``emoavatar.<kind>``.

An entry point names a light :class:`~emoavatar.spec.ComponentSpec` (``pkg.spec:SPEC``).
Listing loads only those specs; a plugin's heavy modules are imported by :meth:`Registry.create`.
Failures are collected per plugin (docs/architecture.md, "Registry"): a broken plugin is listed
with its error and only pipelines that use it fail. ``EMOAVATAR_STRICT=1`` makes any failure fatal
(:func:`Registry.check_strict`, parsed by :mod:`emoavatar.strict`), reported once by name.

Besides the six stage kinds, two published kinds are listed the same way: ``spaces``
(:class:`~emoavatar.spaces.MotionSpace`, group ``emoavatar.spaces``) and ``trainers``
(:class:`~emoavatar.spec.TrainerSpec`, group ``emoavatar.trainers``; see :mod:`.published`).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from typing import Any, Iterable

from .errors import PluginError
from .safe_yaml import brief
from .spec import API_VERSION, ComponentSpec, api_supported

GROUP_PREFIX = "emoavatar."
KIND_NAMES = {
    "encoders": "AudioEncoder", "controllers": "EmotionController", "motion": "MotionGenerator",
    "renderers": "Renderer", "metrics": "Metric", "faces": "FaceAnalyzer",
}


@dataclass
class PluginEntry:
    """One registered component: its spec when it loaded, else the error."""

    name: str
    kind: str
    distribution: str
    version: str
    target: str
    spec: ComponentSpec | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def status(self) -> str:
        return "ok" if self.ok else "broken"

    def describe_error(self) -> str:
        return f"plugin {self.kind}/{self.name} ({self.distribution} {self.version}) is broken: {self.error}"


def _strict() -> bool:
    from .strict import strict_mode

    return strict_mode()


def claim_entry(entries: dict[tuple[str, str], PluginEntry], kind: str, ep: Any) -> PluginEntry | None:
    """Record entry point ``ep`` of ``kind`` in ``entries`` and return its new entry; None when its
    name clashes with an earlier one (recorded as broken under ``NAME@DISTRIBUTION``)."""
    dist = ep.dist.metadata["Name"] if ep.dist is not None else "?"
    version = ep.dist.version if ep.dist is not None else "?"
    entry = PluginEntry(ep.name, kind, dist, version, ep.value)
    key = (kind, ep.name)
    if key in entries:
        other = entries[key]
        entry.error = f"name clash with {other.distribution} {other.version}"
        entries[(kind, f"{ep.name}@{dist}")] = entry
        return None
    entries[key] = entry
    return entry


class Registry:
    """All components the installed distributions declare, loaded lazily per kind."""

    def __init__(self, extra: Iterable[ComponentSpec] = ()) -> None:
        self._entries: dict[tuple[str, str], PluginEntry] | None = None
        self._extra = list(extra)

    # -- discovery ---------------------------------------------------------------------
    def _discover(self) -> dict[tuple[str, str], PluginEntry]:
        entries: dict[tuple[str, str], PluginEntry] = {}
        eps = metadata.entry_points()
        for kind in KIND_NAMES:
            for ep in eps.select(group=GROUP_PREFIX + kind):
                entry = claim_entry(entries, kind, ep)
                if entry is None:
                    continue
                try:
                    entry.spec = self._check(ep.load(), kind, ep.name)
                except Exception as e:  # noqa: BLE001 - isolate any plugin failure
                    entry.error = f"{type(e).__name__}: {e}" if not isinstance(e, PluginError) else e.message
        from .published import discover_published

        discover_published(entries, eps)
        for spec in self._extra:
            entries[(spec.kind, spec.name)] = PluginEntry(spec.name, spec.kind, "(in-process)", "-",
                                                          getattr(spec, "factory", ""), self._check(spec, spec.kind, spec.name))
        return entries

    @staticmethod
    def _check(obj: Any, kind: str, name: str) -> ComponentSpec:
        from .published import PUBLISHED_KINDS

        if kind in PUBLISHED_KINDS:
            return PUBLISHED_KINDS[kind].check(obj, name)
        if not isinstance(obj, ComponentSpec):
            raise PluginError(f"entry point must name a ComponentSpec, got {type(obj).__name__}")
        if obj.kind != kind:
            raise PluginError(f"spec declares kind {obj.kind!r} but is registered under emoavatar.{kind}")
        if obj.name != name:
            raise PluginError(f"spec is named {obj.name!r} but registered as {name!r}")
        try:
            ok = api_supported(obj.api)
        except Exception:  # noqa: BLE001
            raise PluginError(f"invalid api range {obj.api!r}") from None
        if not ok:
            raise PluginError(f"supports core API {obj.api} but this core is {API_VERSION}")
        return obj

    @property
    def entries(self) -> dict[tuple[str, str], PluginEntry]:
        if self._entries is None:
            self._entries = self._discover()
        return self._entries

    # -- queries -----------------------------------------------------------------------
    def list(self, kind: str | None = None) -> list[PluginEntry]:
        return sorted((e for e in self.entries.values() if kind in (None, e.kind)), key=lambda e: (e.kind, e.name))

    def entry(self, kind: str, name: str) -> PluginEntry:
        e = self.entries.get((kind, name))
        if e is None:
            known = sorted(n for k, n in self.entries if k == kind)
            raise PluginError(
                f"unknown {KIND_NAMES.get(kind, kind)} {brief(name)}",
                fix=f"installed: {', '.join(known) or 'none'}; `emoavatar plugins` lists all",
            )
        return e

    def spec(self, kind: str, name: str) -> ComponentSpec:
        e = self.entry(kind, name)
        if not e.ok:
            raise PluginError(e.describe_error(), fix="`emoavatar plugins --doctor` shows details")
        return e.spec  # type: ignore[return-value]

    def create(self, kind: str, name: str, options: Any = None) -> Any:
        """Build a component: validate its options, import its factory, construct it."""
        from .interfaces import KINDS

        spec = self.spec(kind, name)
        e = self.entry(kind, name)
        try:
            cls = spec.load_class()
        except PluginError as err:
            e.error = err.message
            raise PluginError(e.describe_error()) from err
        base = KINDS[kind]
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise PluginError(f"{kind}/{name}: {spec.factory} is not a {base.__name__}")
        cfg = options if options is not None and not isinstance(options, dict) else spec.config.model_validate(options or {})
        return cls(cfg)

    def check_strict(self) -> None:
        """In strict mode, one PluginError naming every broken plugin (else nothing)."""
        if not _strict():
            return
        broken = [e for e in self.list() if not e.ok]
        if broken:
            raise PluginError("EMOAVATAR_STRICT is on and " + "; ".join(e.describe_error() for e in broken),
                              fix="fix or uninstall it, or unset EMOAVATAR_STRICT")

    def doctor(self, kind: str | None = None) -> list[PluginEntry]:
        """Import every plugin's factory too (of ``kind`` only, if given), recording failures (slow:
        loads model code)."""
        from .published import doctor_entry

        for e in self.list(kind):
            if e.ok:
                try:
                    doctor_entry(e)
                except PluginError as err:
                    e.error = err.message
        return self.list()

    def space(self, name: str):
        """The published :class:`~emoavatar.spaces.MotionSpace` ``name``, or None when no healthy one is."""
        e = self.entries.get(("spaces", name))
        return e.spec if e is not None and e.ok else None

    def default(self, kind: str) -> str:
        """The component of ``kind`` to use when none is named: the only healthy one, else the one
        whose spec sets ``default=True``; PluginError when that is ambiguous or none is installed."""
        ok = [e for e in self.list(kind) if e.ok]
        if len(ok) == 1:
            return ok[0].name
        marked = [e for e in ok if getattr(e.spec, "default", False)]
        if len(marked) == 1:
            return marked[0].name
        names = ", ".join(e.name for e in ok) or "none"
        raise PluginError(f"no default {KIND_NAMES.get(kind, kind)}: installed {names}",
                          fix=f"name one explicitly (installed: {names})")


_default: Registry | None = None


def get_registry() -> Registry:
    global _default
    if _default is None:
        _default = Registry()
    return _default


def reset_registry() -> None:
    """Forget discovered plugins (after installing one in a running process)."""
    global _default
    _default = None
