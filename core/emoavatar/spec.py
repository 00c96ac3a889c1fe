"""The light object an entry point points at: what a component is, without importing it.

A plugin's ``spec.py`` imports only pydantic and this module::

    class Warp2DConfig(BaseModel):
        model_config = ConfigDict(extra="forbid")
        feather: float = Field(3.0, gt=0)

    SPEC = ComponentSpec(
        name="warp2d", kind="renderers", factory="emoavatar_warp2d.renderer:Warp2DRenderer",
        config=Warp2DConfig, consumes=("motion:landmarks68",), produces=("frames",),
        summary="piecewise-affine landmark warp of the portrait",
    )

Ports are strings ``PREFIX:NAME`` (``features:visemes``, ``words``, ``input:transcript``,
``emotion``, ``motion:landmarks68``, ``frames``); a consumed port may end in ``*`` to accept any
name (``features:*``). The runner gives each stage only the ports it declares and checks what it
returns (:mod:`emoavatar.ports`; docs/architecture.md, "Ports").

Options that are file paths use :data:`PathOption`: a relative path in a pipeline YAML is resolved
against the YAML's folder, like ``inputs``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Callable

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo

from .errors import PluginError

API_VERSION = "1.0"


class EmptyConfig(BaseModel):
    """For components without options; still rejects unknown keys."""

    model_config = ConfigDict(extra="forbid")


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    """``~`` expanded; a relative path joined to ``context["base_dir"]`` (the pipeline YAML's folder)."""
    value = Path(value).expanduser()
    base = (info.context or {}).get("base_dir") if info is not None else None
    if base is not None and not value.is_absolute():
        value = (Path(base) / value).resolve()
    return value


#: A component option that is a file or folder: ``weights: PathOption | None = None``. Relative
#: paths in a pipeline YAML resolve against the YAML's folder (as ``inputs`` do).
PathOption = Annotated[Path, AfterValidator(_resolve_path)]


def _resolve_path_or_id(value: str, info: ValidationInfo) -> str:
    """A local path or a hub id, kept as a string: ``~`` expanded; a relative value that names a
    file or folder beside the pipeline YAML (or starts with ``./`` / ``../``) is joined to the
    YAML's folder; anything else (``facebook/hubert-base-ls960``) is left as given."""
    text = str(value)
    if not text:
        return text
    path = Path(text).expanduser()
    if path.is_absolute():
        return str(path)
    base = (info.context or {}).get("base_dir") if info is not None else None
    if base is not None and (text.startswith(("./", "../")) or (Path(base) / path).exists()):
        return str((Path(base) / path).resolve())
    return str(path) if text.startswith("~") else text


#: A weights option that may be a local file/folder or a hub id (``from_pretrained`` style): a
#: relative path that exists beside the pipeline YAML resolves against the YAML's folder.
PathOrId = Annotated[str, AfterValidator(_resolve_path_or_id)]


@dataclass(frozen=True)
class Column:
    """A value a metric reports: ``Column("lse_d", better="lower", unit="", integer=False)``.

    ``name`` may be a pattern (``AU*``); ``better`` is ``"higher"``, ``"lower"`` or None (no
    direction); ``integer`` columns (counts, frame offsets) print without decimals."""

    name: str
    better: str | None = None
    unit: str = ""
    integer: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if self.better not in (None, "higher", "lower"):
            raise ValueError(f"column {self.name}: better must be 'higher', 'lower' or None, got {self.better!r}")


@dataclass(frozen=True)
class SeriesPlot:
    """A per-sample figure ``<sample>_<name>.png`` of a metric's series (``MetricResult.series``).

    ``series``: names or patterns (``AU*``) drawn as lines; ``secondary``: series on a second y axis;
    ``layout``: ``"overlay"`` (one panel) or ``"grid"`` (one panel per series; a series ``X_ref``
    is drawn dashed in ``X``'s panel); ``x``: ``"time"`` (frame / fps, seconds) or ``"lag"``
    (index centred on 0, for correlations over offsets)."""

    name: str
    series: tuple[str, ...]
    title: str = ""
    ylabel: str = ""
    secondary: tuple[str, ...] = ()
    layout: str = "overlay"
    x: str = "time"

    def __post_init__(self) -> None:
        if self.layout not in ("overlay", "grid") or self.x not in ("time", "lag"):
            raise ValueError(f"plot {self.name}: layout must be overlay|grid and x time|lag")


@dataclass(frozen=True)
class TrainerSpec:
    """A trainer run by ``emoavatar train NAME [ARGS]``: ``target`` is ``"module:main"``, a callable
    ``main(argv: list[str]) -> int`` imported only when the trainer runs (or ``--doctor``)."""

    name: str
    target: str
    summary: str = ""
    api: str = ">=1.0,<2"
    kind: str = "trainers"
    consumes: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    produces: tuple[str, ...] = ()

    def load_class(self) -> Callable[[list[str]], int]:
        """Import ``target`` (errors become :class:`PluginError`)."""
        return _import(self.target, f"trainers/{self.name}")


@dataclass(frozen=True)
class ComponentSpec:
    """Declares a component: ``name`` (used in YAML ``use:``), ``kind`` (entry-point group
    suffix: encoders, controllers, motion, renderers, metrics, faces), ``factory``
    (``"module:Class"``, imported only when built), ``config`` (pydantic model with
    ``extra="forbid"``), ports ``consumes`` / ``optional`` / ``produces``, and ``api``
    (supported core API range as ``">=1.0,<2"``)."""

    name: str
    kind: str
    factory: str
    config: type[BaseModel] = EmptyConfig
    consumes: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    produces: tuple[str, ...] = ()
    api: str = ">=1.0,<2"
    summary: str = ""
    requires: tuple[str, ...] = ()  # metrics: EvalSample fields needed (reference, audio, portrait)
    extras: dict[str, Any] = field(default_factory=dict)
    #: when what a component produces depends on its options (e.g. a configurable feature kind):
    #: ``produces_for(config) -> ports``; defined in the light spec module, so listing stays light.
    produces_for: Callable[[BaseModel], tuple[str, ...]] | None = None
    #: metrics: the value columns it reports (direction, unit) and the series worth plotting.
    columns: tuple[Column, ...] = ()
    plots: tuple[SeriesPlot, ...] = ()
    #: position in default listings (metrics: the column order of ``evaluate``); lower first, ties by name.
    order: int = 1000
    #: controllers: True when the emotion follows the request (a "happy" request gives mostly happy);
    #: False for controllers whose emotion comes from data (an annotation file, the audio).
    follows_request: bool = True
    #: faces: the analyzer used when a pipeline or ``evaluate`` names none and several are installed.
    default: bool = False

    def column(self, name: str) -> Column | None:
        """The declared column matching value ``name`` (patterns such as ``AU*`` allowed)."""
        from fnmatch import fnmatchcase

        return next((c for c in self.columns if fnmatchcase(name, c.name)), None)

    def ports_out(self, options: BaseModel | None = None) -> tuple[str, ...]:
        if self.produces_for is not None and options is not None:
            return tuple(self.produces_for(options))
        return self.produces

    def load_class(self) -> type:
        """Import the factory (the heavy part). Errors become :class:`PluginError`."""
        return _import(self.factory, f"{self.kind}/{self.name}")

    def build(self, options: dict | BaseModel | None = None) -> Any:
        """Validate ``options`` against ``config`` and construct the component."""
        cfg = options if isinstance(options, BaseModel) else self.config.model_validate(options or {})
        return self.load_class()(cfg)


def _import(target: str, who: str) -> Any:
    module, _, attr = target.partition(":")
    try:
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except Exception as e:  # noqa: BLE001 - any import failure is the plugin's
        raise PluginError(f"{who}: cannot import {target}: {type(e).__name__}: {e}") from e
    return obj


def api_supported(spec_range: str, version: str = API_VERSION) -> bool:
    """``api_supported(">=1.0,<2", "1.0") -> True``. A bad range string raises ValueError."""
    from packaging.specifiers import SpecifierSet

    return version in SpecifierSet(spec_range)


def port_matches(offered: str, wanted: str) -> bool:
    """``port_matches("features:visemes", "features:*") -> True``."""
    if wanted.endswith("*"):
        return offered.startswith(wanted[:-1])
    return offered == wanted
