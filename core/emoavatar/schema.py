"""JSON Schema of pipeline files, with each installed component's own options, for editors.

Each stage becomes ``anyOf`` over ``{use: const NAME, with: <that component's config schema>}``
for the healthy installed components of its kind (plus a generic fallback for the rest).
"""

from __future__ import annotations

from typing import Any

from .config import STAGES, PipelineConfig
from .registry import Registry, get_registry


def _component_schemas(kind: str, registry: Registry, defs: dict) -> list[dict]:
    out = []
    for e in registry.list(kind):
        if not e.ok:
            continue
        s = e.spec.config.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(s.pop("$defs", {}))
        out.append({
            "type": "object", "additionalProperties": False, "required": ["use"],
            "description": e.spec.summary or f"{kind}/{e.name}",
            "properties": {"use": {"const": e.name}, "with": s},
        })
    return out


def pipeline_schema(registry: Registry | None = None) -> dict[str, Any]:
    registry = registry or get_registry()
    schema = PipelineConfig.model_json_schema(ref_template="#/$defs/{model}")
    defs = schema.setdefault("$defs", {})
    props = schema["properties"]
    for key, kind in STAGES.items():
        options = _component_schemas(kind, registry, defs)
        if not options:
            continue
        one = {"anyOf": options}
        props[key] = {"anyOf": [one, {"type": "array", "items": one}]} if key in ("encoder", "motion", "metrics") else one
    schema["title"] = "emoavatar pipeline"
    return schema
