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

Ports are strings ``PREFIX:NAME`` (``features:visemes``, ``emotion``, ``motion:landmarks68``,
``frames``); a consumed port may end in ``*`` to accept any name (``features:*``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict

from .errors import PluginError

API_VERSION = "1.0"


class EmptyConfig(BaseModel):
    """For components without options; still rejects unknown keys."""

    model_config = ConfigDict(extra="forbid")


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

    def ports_out(self, options: BaseModel | None = None) -> tuple[str, ...]:
        if self.produces_for is not None and options is not None:
            return tuple(self.produces_for(options))
        return self.produces

    def load_class(self) -> type:
        """Import the factory (the heavy part). Errors become :class:`PluginError`."""
        module, _, attr = self.factory.partition(":")
        try:
            obj = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except Exception as e:  # noqa: BLE001 - any import failure is the plugin's
            raise PluginError(
                f"{self.kind}/{self.name}: cannot import {self.factory}: {type(e).__name__}: {e}"
            ) from e
        return obj

    def build(self, options: dict | BaseModel | None = None) -> Any:
        """Validate ``options`` against ``config`` and construct the component."""
        cfg = options if isinstance(options, BaseModel) else self.config.model_validate(options or {})
        return self.load_class()(cfg)


def api_supported(spec_range: str, version: str = API_VERSION) -> bool:
    """``api_supported(">=1.0,<2", "1.0") -> True``. A bad range string raises ValueError."""
    from packaging.specifiers import SpecifierSet

    return version in SpecifierSet(spec_range)


def port_matches(offered: str, wanted: str) -> bool:
    """``port_matches("features:visemes", "features:*") -> True``."""
    if wanted.endswith("*"):
        return offered.startswith(wanted[:-1])
    return offered == wanted
