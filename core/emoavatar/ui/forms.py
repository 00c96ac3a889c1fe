"""What the web UI's forms mean, without Gradio: emotion requests from form values, pipelines
from the picked components and their options, and which installed components can be used.

Kept apart from the Gradio layout (:mod:`.app`) so it is tested directly and light to import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..emotions import ACTION_UNITS, EMOTIONS, parse_emotion
from ..errors import ConfigError, EmotionError

#: YAML stage key -> registry kind, as the pipeline file orders them (metrics are not picked here).
STAGE_KINDS = {"face": "faces", "encoder": "encoders", "controller": "controllers", "motion": "motion",
               "renderer": "renderers"}
MODES = ("label", "mix", "timeline", "text", "from_audio")
#: Action units offered as sliders (the ones the emotion prototypes use).
AU_SLIDERS = ("AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU12", "AU15", "AU20", "AU26")
_TIMELINE_LINE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*s?\s*[:=]\s*(.+?)\s*$")


def parse_timeline(text: str) -> list[dict[str, Any]]:
    """``"0: neutral\\n2.5: happy:0.6,surprised:0.4"`` -> ``[{at: 0, emotion: neutral}, ...]``."""
    out = []
    for n, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        m = _TIMELINE_LINE.match(line)
        if not m:
            raise EmotionError(f"timeline line {n} must look like 'SECONDS: EMOTION' (e.g. 2.5: happy)")
        out.append({"at": float(m.group(1)), "emotion": m.group(2)})
    if not out:
        raise EmotionError("the timeline is empty", fix="add at least one 'SECONDS: EMOTION' line")
    return out


def add_to_timeline(text: str, at: float | None, emotion: str) -> str:
    """Append ``AT: EMOTION`` (kept in time order)."""
    if at is None or at < 0:
        raise EmotionError("a timeline switch needs a time >= 0 seconds")
    rows = parse_timeline(text) if (text or "").strip() else []
    rows.append({"at": float(at), "emotion": emotion})
    rows.sort(key=lambda r: r["at"])
    return "\n".join(f"{r['at']:g}: {r['emotion']}" for r in rows)


def emotion_request(mode: str, *, label: str = "neutral", mix: dict[str, float] | None = None,
                    timeline: str = "", text: str = "", au: dict[str, float] | None = None,
                    intensity: float = 1.0) -> dict[str, Any]:
    """The request the form describes, in the YAML form the pipeline accepts; checked by
    :func:`~emoavatar.emotions.parse_emotion` (raises :class:`EmotionError`)."""
    if mode not in MODES:
        raise EmotionError(f"unknown emotion form {mode!r}", fix=f"one of {', '.join(MODES)}")
    req: dict[str, Any]
    if mode == "label":
        req = {"emotion": label}
    elif mode == "mix":
        weights = {k: float(v) for k, v in (mix or {}).items() if v and float(v) > 0}
        if not weights:
            raise EmotionError("the mix has no emotion above 0", fix="raise at least one slider")
        req = {"emotion": weights}
    elif mode == "timeline":
        req = {"timeline": parse_timeline(timeline)}
    elif mode == "text":
        if not (text or "").strip():
            raise EmotionError("the text prompt is empty", fix="describe the emotion, e.g. 'I can't believe we won!'")
        req = {"text": text.strip()}
    else:
        req = {"from_audio": True}
    aus = {k: float(v) for k, v in (au or {}).items() if v and float(v) > 0}
    if aus:
        req["au"] = aus
    req["intensity"] = float(intensity)
    parse_emotion(req)
    return req


@dataclass
class Availability:
    name: str
    kind: str
    ok: bool
    reason: str = ""

    @property
    def label(self) -> str:
        return self.name if self.ok else f"{self.name} (unavailable: {self.reason})"


#: option names that hold weights, unless a spec names its own in ``extras["weights_options"]``
WEIGHT_OPTIONS = ("checkpoint", "weights", "model_path")


def availability(registry, kind: str) -> list[Availability]:
    """Every installed component of ``kind``; unavailable ones carry the reason: a broken plugin,
    options without a usable default, or a weights option (``extras["weights_options"]``, else
    one named checkpoint / weights / model_path) left empty by default."""
    from pydantic import ValidationError

    out = []
    for e in registry.list(kind):
        if not e.ok:
            out.append(Availability(e.name, kind, False, f"broken plugin: {e.error}"))
            continue
        try:
            defaults = e.spec.config.model_validate({})
        except ValidationError as err:
            needs = sorted({".".join(map(str, x["loc"])) for x in err.errors()})
            out.append(Availability(e.name, kind, False, f"needs {', '.join(needs)} (e.g. weights) set in its options"))
            continue
        fields = e.spec.config.model_fields
        names = tuple(e.spec.extras.get("weights_options", ())) or tuple(n for n in WEIGHT_OPTIONS if n in fields)
        empty = [n for n in names if getattr(defaults, n, None) in (None, "")]
        if empty:
            desc = fields[empty[0]].description if empty[0] in fields else ""
            out.append(Availability(e.name, kind, False, f"no weights: set {empty[0]} in its options"
                                    + (f" ({desc})" if desc else "")))
            continue
        out.append(Availability(e.name, kind, True))
    return out


def _schema_and_defaults(registry, kind: str, name: str) -> tuple[dict, dict]:
    """A component config's JSON schema and its default values (empty when some are required)."""
    from pydantic import ValidationError

    config = registry.spec(kind, name).config
    try:
        defaults = config.model_validate({}).model_dump(mode="json")
    except ValidationError:
        defaults = {}
    return config.model_json_schema(), defaults


def options_template(registry, kind: str, name: str, exclude: tuple[str, ...] = ()) -> str:
    """A component's options as commented YAML: defaults filled in (required ones as ``null``),
    each field's description and bounds as a comment; ``exclude``: keys shown as form fields."""
    if not name:
        return ""
    schema, defaults = _schema_and_defaults(registry, kind, name)
    lines = []
    for key, prop in schema.get("properties", {}).items():
        if key in exclude:
            continue
        desc = prop.get("description") or ""
        bounds = ", ".join(f"{k} {prop[k]}" for k in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")
                           if k in prop)
        required = key not in defaults
        note = "; ".join(x for x in ("required" if required else "", desc, bounds) if x)
        dumped = yaml.safe_dump({key: defaults.get(key)}, default_flow_style=True, width=1000).strip()[1:-1]
        lines.append(f"{dumped}" + (f"  # {note}" if note else ""))
    return "\n".join(lines)


@dataclass
class OptionField:
    """One option of a component's config as a form field: ``type`` is number, integer, bool,
    choice or text (``None`` allowed when ``nullable``); other types stay in the YAML box."""

    key: str
    type: str
    default: Any
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()
    nullable: bool = False


def option_fields(registry, kind: str, name: str) -> list[OptionField]:
    """The form fields of a component's options, from its pydantic config's JSON schema."""
    schema, defaults = _schema_and_defaults(registry, kind, name)
    out = []
    for key, prop in schema.get("properties", {}).items():
        variants = prop.get("anyOf") or [prop]
        types = [v.get("type") for v in variants]
        nullable = "null" in types
        main = next((v for v in variants if v.get("type") != "null"), {})
        t, enum = main.get("type"), main.get("enum") or (prop.get("enum"))
        lo = main.get("minimum", main.get("exclusiveMinimum"))
        hi = main.get("maximum", main.get("exclusiveMaximum"))
        if enum:
            ftype = "choice"
        elif t in ("number", "integer"):
            ftype = t
        elif t == "boolean":
            ftype = "bool"
        elif t == "string":
            ftype = "text"
        else:
            continue
        out.append(OptionField(key, ftype, defaults.get(key), prop.get("description") or "", lo, hi,
                               tuple(enum or ()), nullable))
    return out


def field_values(fields: dict[str, Any], specs: list[OptionField]) -> dict[str, Any]:
    """Form values -> options: integers as int, empty text as None where allowed."""
    by_key = {f.key: f for f in specs}
    out = {}
    for key, value in fields.items():
        f = by_key.get(key)
        if f is None:
            continue
        if f.type == "integer" and value is not None:
            value = int(round(float(value)))
        elif f.type == "text" and value == "" and f.nullable:
            value = None
        out[key] = value
    return out


def parse_options(text: str, where: str) -> dict[str, Any]:
    """YAML options typed in the UI -> a mapping (an empty box means the defaults)."""
    if not (text or "").strip():
        return {}
    if len(text) > 100_000:
        raise ConfigError(f"{where}: options are too long")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ConfigError(f"{where}: options are not valid YAML" + (f" (line {mark.line + 1})" if mark else "")) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: options must be KEY: VALUE lines")
    return data


def build_pipeline_data(base: dict[str, Any] | None, picks: dict[str, Any], options: dict[str, str],
                        fields: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """A pipeline mapping from a starting pipeline (fps, seed, metrics, output), the components
    picked per stage (``encoder`` is a list) and their options: YAML text per stage (encoders'
    options are a mapping ``encoder name -> options``), overridden by form-field values per stage."""
    data = {k: v for k, v in (base or {}).items() if k not in STAGE_KINDS and k != "inputs"}
    for stage in STAGE_KINDS:
        pick = picks.get(stage)
        if stage == "encoder":
            names = [p for p in (pick or []) if p]
            if not names:
                raise ConfigError("pick at least one audio encoder")
            per = parse_options(options.get(stage, ""), "encoder options")
            unknown = sorted(set(per) - set(names))
            if unknown:
                raise ConfigError(f"encoder options name {unknown[0]!r}, which is not picked",
                                  fix="write options as 'NAME: {KEY: VALUE}' for picked encoders")
            data["encoder"] = [{"use": n, "with": per.get(n) or {}} for n in names]
        else:
            if not pick:
                raise ConfigError(f"pick a {stage}")
            opts = parse_options(options.get(stage, ""), f"{stage} options")
            opts.update((fields or {}).get(stage) or {})
            data[stage] = {"use": pick, "with": opts}
            if stage == "motion":
                data[stage] = motion_chain((base or {}).get("motion"), data[stage])
    return data


def chain_last(node: Any) -> Any:
    """The stage a form shows for a pipeline's ``motion``: the mapping itself, or a chain's last stage
    (the one that feeds the renderer)."""
    return node[-1] if isinstance(node, list) and node else node


def motion_chain(base_motion: Any, picked: dict[str, Any]) -> Any:
    """The picked motion stage; when the starting pipeline has a motion chain ending in the same component,
    the chain's earlier stages (with their options) are kept in front of it."""
    if isinstance(base_motion, list) and len(base_motion) > 1 and isinstance(base_motion[-1], dict) \
            and base_motion[-1].get("use") == picked["use"]:
        return [*base_motion[:-1], picked]
    return picked


def load_base(path: str | Path) -> dict[str, Any]:
    from ..config import load_config_data

    return load_config_data(path)


def au_names() -> tuple[str, ...]:
    return tuple(a for a in AU_SLIDERS if a in ACTION_UNITS)


def emotions() -> tuple[str, ...]:
    return EMOTIONS
