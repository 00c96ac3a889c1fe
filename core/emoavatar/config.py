"""Pipeline YAML as pydantic models (docs/architecture.md, "Pipelines").

```yaml
fps: 25
seed: 0
inputs: {portrait: portrait.png, audio: speech.wav, emotion: happy}   # paths relative to this file
face: {use: dlib}                               # optional: the installed default analyzer
encoder: [{use: phonemes}, {use: prosody}]      # one component or a list
controller: {use: mixture}
motion: {use: facs-rig}                         # one motion generator, or a chain (a list): each later
                                                #   stage consumes the previous one's motion:SPACE
renderer: {use: warp2d, with: {teeth: 0.6}}
metrics: [{use: av-sync}]                       # optional: evaluate the output
output: {chunk_size: 25, crf: 18}
```

Unknown keys are rejected everywhere; errors name the YAML path
(``renderer.with.teeth: Input should be less than or equal to 1``). Only ``yaml.safe_load``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_serializer, field_validator

from .errors import ConfigError
from .safe_yaml import InvalidYAML, brief, load_file, load_text

#: YAML key -> registry kind, in pipeline order.
STAGES: dict[str, str] = {
    "face": "faces", "encoder": "encoders", "controller": "controllers",
    "motion": "motion", "renderer": "renderers", "metrics": "metrics",
}


class ComponentRef(BaseModel):
    """``{use: NAME, with: {...options}}``; ``with`` is checked against the component's own config model."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    use: str = Field(min_length=1)
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")

    @field_validator("with_", mode="before")
    @classmethod
    def _none_is_empty(cls, v: Any) -> Any:
        return {} if v is None else v


class Inputs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    portrait: Path | None = None
    max_portrait_side: int = Field(2048, ge=64, le=16384,
                                   description="larger portraits are downscaled to this longest side (with a notice)")
    audio: Path | None = None
    emotion: Any = None
    transcript: str | None = Field(None, description="what is said (helps aligning encoders such as phonemes)")
    driving: Path | None = Field(None, description="driving video for video-driven stages (input port input:driving); "
                                 "its audio is the output's unless audio is given")


class OutputOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chunk_size: int = Field(25, gt=0, le=1000, description="frames rendered and encoded per step")
    crf: int = Field(18, ge=0, le=51, description="x264 constant rate factor (lower = better)")
    preset: str = Field("veryfast", pattern=r"^(ultrafast|superfast|veryfast|faster|fast|medium|slow|slower|veryslow)$")


def _as_list(v: Any) -> Any:
    return [v] if isinstance(v, dict) else v


class PipelineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fps: float = Field(25.0, gt=0, le=120)
    seed: int = Field(0, ge=0, le=2**32 - 1, description="random seed, 0 .. 2**32-1")
    inputs: Inputs = Field(default_factory=Inputs)
    face: ComponentRef | None = Field(
        None, description="face analyzer; omitted: the installed default (Registry.default('faces'))")
    encoder: list[ComponentRef] = Field(min_length=1)
    controller: ComponentRef
    motion: list[ComponentRef] = Field(
        min_length=1, description="one motion generator, or a chain: each later stage consumes the motion:SPACE port "
        "of the stage before it (docs/architecture.md, 'Motion chains')")
    renderer: ComponentRef
    metrics: list[ComponentRef] = Field(default_factory=list)
    output: OutputOptions = Field(default_factory=OutputOptions)
    provenance: dict[str, Any] | None = Field(
        None, description="written by emoavatar beside each output (versions used); ignored when read")
    #: the YAML's folder (set by load_config): relative PathOption values of components resolve against it
    _base_dir: Path | None = PrivateAttr(None)

    _as_list_encoder = field_validator("encoder", "metrics", "motion", mode="before")(classmethod(lambda cls, v: _as_list(v)))

    @field_serializer("motion", mode="wrap")
    def _single_motion_as_mapping(self, value: list[ComponentRef], handler: Any) -> Any:
        """A one-stage motion is written back as the mapping it was (``motion: {use: ...}``)."""
        out = handler(value)
        return out[0] if len(out) == 1 else out

    def motion_paths(self) -> list[str]:
        """YAML paths of the motion stages in run order: ``["motion"]`` or ``["motion[0]", "motion[1]", ...]``."""
        return ["motion"] if len(self.motion) == 1 else [f"motion[{i}]" for i in range(len(self.motion))]

    def refs(self) -> list[tuple[str, str, ComponentRef | None]]:
        """``(yaml path, kind, ref)`` for every component, in pipeline order; ``ref`` is None for an
        omitted ``face`` (validation picks the installed default)."""
        out: list[tuple[str, str, ComponentRef | None]] = [("face", "faces", self.face)]
        out += [(f"encoder[{i}]" if len(self.encoder) > 1 else "encoder", "encoders", r)
                for i, r in enumerate(self.encoder)]
        out += [("controller", "controllers", self.controller)]
        out += [(p, "motion", r) for p, r in zip(self.motion_paths(), self.motion)]
        out += [("renderer", "renderers", self.renderer)]
        out += [(f"metrics[{i}]", "metrics", r) for i, r in enumerate(self.metrics)]
        return out


MAX_SHOWN_ERRORS = 5


def _key_text(key: Any) -> str:
    """A YAML key as shown in a message: printable, one line, at most 40 characters."""
    text = str(key)
    return (text if text.isprintable() else repr(text)[1:-1])[:40]


def format_loc(loc: tuple[Any, ...], prefix: str = "") -> str:
    parts = [prefix] if prefix else []
    for p in loc:
        if isinstance(p, int):
            parts[-1:] = [f"{parts[-1]}[{p}]"] if parts else [f"[{p}]"]
        else:
            parts.append("with" if p == "with_" else _key_text(p))
    return ".".join(parts) or "(top level)"


def validation_message(err: ValidationError, prefix: str = "") -> str:
    """All errors of a pydantic ValidationError as ``path: message`` lines."""
    lines = []
    errors = err.errors()
    for e in errors[:MAX_SHOWN_ERRORS]:  # a message stays one short line however broken the file
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (misspelled?)"
        lines.append(f"{format_loc(tuple(e['loc']), prefix)}: {msg[:200]}")
    if len(errors) > MAX_SHOWN_ERRORS:
        lines.append(f"and {len(errors) - MAX_SHOWN_ERRORS} more")
    return "; ".join(lines)


def set_dotted(data: dict, key: str, value: Any) -> None:
    """``set_dotted(d, "renderer.with.teeth", 0.5)``; list items as ``encoder.0.use``."""
    parts = key.split(".")
    cur: Any = data
    for i, p in enumerate(parts[:-1]):
        nxt_is_index = parts[i + 1].isdigit()
        if isinstance(cur, list):
            cur = cur[int(p)]
            continue
        if p not in cur or cur[p] is None:
            cur[p] = [] if nxt_is_index else {}
        elif nxt_is_index and isinstance(cur[p], dict):  # `encoder: {use: x}` addressed as encoder.0
            cur[p] = [cur[p]]
        cur = cur[p]
    last = parts[-1]
    if isinstance(cur, list):
        cur[int(last)] = value
    else:
        cur[last] = value


def parse_overrides(items: list[str]) -> list[tuple[str, Any]]:
    """``["renderer.with.teeth=0.5"]`` -> ``[("renderer.with.teeth", 0.5)]`` (values read as YAML)."""
    out = []
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {brief(item)} must look like KEY=VALUE (e.g. renderer.with.teeth=0.5)")
        try:
            value = load_text(raw, f"--set {brief(key.strip())}") if raw.strip() else None
        except InvalidYAML:
            value = raw
        out.append((key.strip(), value))
    return out


def load_config_data(path: str | Path) -> dict:
    path = Path(path)
    data = load_file(path)  # UTF-8, size and alias-expansion limits (safe_yaml)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a pipeline must be a YAML mapping, got {type(data).__name__}")
    base = path.parent
    inputs = data.get("inputs")
    if isinstance(inputs, dict):
        for k in ("portrait", "audio", "driving"):
            if isinstance(inputs.get(k), str) and not Path(inputs[k]).is_absolute():
                inputs[k] = str((base / inputs[k]).resolve())
    return data


def parse_config(data: dict, overrides: list[tuple[str, Any]] = ()) -> PipelineConfig:
    import copy

    data = copy.deepcopy(data)
    for key, value in overrides:
        try:
            set_dotted(data, key, value)
        except (KeyError, IndexError, ValueError, TypeError):
            head = key.split(".")[0]
            fix = (f"{head} is a list here: address its items by index, e.g. {head}.1.with.KEY=VALUE"
                   if isinstance(data.get(head), list) else None)
            raise ConfigError(f"cannot set {brief(key)}: no such place in the pipeline", fix=fix) from None
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(validation_message(e)) from None


def load_config(path: str | Path, overrides: list[str] | list[tuple[str, Any]] = ()) -> PipelineConfig:
    """Read, override (``KEY=VALUE`` strings or pairs) and validate a pipeline YAML's structure."""
    pairs = parse_overrides(list(overrides)) if overrides and isinstance(next(iter(overrides)), str) else overrides
    config = parse_config(load_config_data(path), list(pairs))
    config._base_dir = Path(path).resolve().parent
    return config
