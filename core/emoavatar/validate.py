"""Checking a pipeline before any weights load (docs/architecture.md, "Validation"): components
exist and are healthy, their ``with`` options fit their config models (relative path options
resolved against the YAML's folder), ports connect (encoders may consume other encoders' ports;
no cycles; each later stage of a motion chain consumes the motion of the stage before it), the emotion
parses, and the input files exist.

Only light specs are read; no plugin model code (torch, dlib) is imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

from .config import ComponentRef, PipelineConfig, validation_message
from .emotions import parse_emotion
from .errors import ConfigError, EmoAvatarError, MediaError, PluginError, PortError
from .registry import KIND_NAMES, Registry, get_registry
from .spec import ComponentSpec, port_matches


@dataclass
class ResolvedComponent:
    path: str  # YAML path, e.g. "encoder[1]"
    kind: str
    spec: ComponentSpec
    options: BaseModel
    distribution: str
    version: str

    @property
    def label(self) -> str:
        return f"{self.path} '{self.spec.name}'"


@dataclass
class ValidationReport:
    components: list[ResolvedComponent] = field(default_factory=list)
    problems: list[EmoAvatarError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def by_path(self, path: str) -> ResolvedComponent | None:
        return next((c for c in self.components if c.path == path), None)

    def raise_first(self) -> None:
        if self.problems:
            raise self.problems[0]


def resolve_components(config: PipelineConfig, registry: Registry, report: ValidationReport) -> None:
    for path, kind, ref in config.refs():
        if ref is None:  # an omitted face: the installed default
            try:
                ref = ComponentRef(use=registry.default(kind))
            except PluginError as e:
                report.problems.append(PluginError(f"{path}.use: {e.message}", fix=e.fix))
                continue
        try:
            entry = registry.entry(kind, ref.use)
            spec = registry.spec(kind, ref.use)
        except PluginError as e:
            report.problems.append(PluginError(f"{path}.use: {e.message}", fix=e.fix))
            continue
        try:
            options = spec.config.model_validate(ref.with_, context={"base_dir": config._base_dir})
        except ValidationError as e:
            report.problems.append(ConfigError(validation_message(e, f"{path}.with")))
            continue
        report.components.append(ResolvedComponent(path, kind, spec, options, entry.distribution, entry.version))


def _offered(components: list[ResolvedComponent], kinds: set[str]) -> list[tuple[str, ResolvedComponent]]:
    return [(p, c) for c in components if c.kind in kinds for p in c.spec.ports_out(c.options)]


def check_ports(report: ValidationReport) -> None:
    """Every consumed port is produced upstream; name both sides when not."""
    from .ports import INPUT_PORTS, order_encoders

    upstream = {"encoders": {"encoders"}, "controllers": {"encoders"}, "motion": {"encoders", "controllers"},
                "renderers": {"motion"}}
    motions = [c for c in report.components if c.kind == "motion"]
    for comp in report.components:
        if comp.kind not in upstream:
            continue
        offered = [(p, c) for p, c in _offered(report.components, upstream[comp.kind] - {"motion"}) if c is not comp]
        offered += _motion_offered(comp, motions)
        for want in tuple(comp.spec.consumes) + tuple(comp.spec.optional):
            if want.startswith("input:") and want not in INPUT_PORTS:
                report.problems.append(PortError(f"{comp.label} declares {want}, which is not a pipeline input",
                                                 fix=f"pipeline inputs: {', '.join(INPUT_PORTS)}"))
        for want in comp.spec.consumes:
            if want in INPUT_PORTS or any(port_matches(p, want) for p, _ in offered):
                continue
            same_prefix = [(p, c) for p, c in offered if p.split(":")[0] == want.split(":")[0]]
            if same_prefix:
                have = ", ".join(f"{c.label} produces {p}" for p, c in same_prefix)
                msg = f"{comp.label} consumes {want} but {have}"
            elif comp.kind == "motion" and want.startswith("motion:"):
                msg = f"{comp.label} consumes {want} but no motion stage before it produces it"
            else:
                kinds = " or ".join(KIND_NAMES[k] for k in sorted(upstream[comp.kind])) or "no stage"
                msg = f"{comp.label} consumes {want} but no {kinds} in this pipeline produces it"
            report.problems.append(PortError(msg, fix="pick stages whose ports match (`emoavatar plugins` lists them)"))
    check_motion_chain(motions, report)
    try:
        order_encoders(report.components)
    except PortError as e:
        report.problems.append(e)


def _motion_offered(comp: ResolvedComponent, motions: list[ResolvedComponent]) -> list[tuple[str, ResolvedComponent]]:
    """The motion ports ``comp`` may read: a motion stage, those of the stage before it in the chain;
    the renderer, those of the last stage (it renders the chain's final motion)."""
    if comp.kind == "renderers":
        before = motions[-1:]
    elif comp.kind == "motion":
        i = motions.index(comp)
        before = motions[i - 1:i] if i else []
    else:
        return []
    return [(p, c) for c in before for p in c.spec.ports_out(c.options)]


def check_motion_chain(motions: list[ResolvedComponent], report: ValidationReport) -> None:
    """Each later motion stage consumes a ``motion:SPACE`` port of the stage right before it."""
    for prev, comp in zip(motions, motions[1:]):
        made = [p for p in prev.spec.ports_out(prev.options) if p.startswith("motion:")]
        wants = tuple(comp.spec.consumes) + tuple(comp.spec.optional)
        if any(port_matches(p, w) for p in made for w in wants):
            continue
        if any(w.startswith("motion:") for w in comp.spec.consumes):
            continue  # a mismatch is reported by check_ports, naming both sides
        report.problems.append(PortError(
            f"{comp.label} follows {prev.label} in the motion chain but does not consume its "
            f"{', '.join(made) or 'motion'} (it consumes {', '.join(wants) or 'nothing'})",
            fix="a later motion stage must read the motion of the stage before it; reorder or remove a stage"))


def check_inputs(config: PipelineConfig, report: ValidationReport) -> None:
    """The portrait and audio the YAML names exist (a run would fail on them later)."""
    for key in ("portrait", "audio"):
        path = getattr(config.inputs, key)
        if path is not None and not path.is_file():
            report.problems.append(MediaError(f"inputs.{key}: file not found: {path}",
                                              fix="check the path (relative paths are relative to the YAML's folder)"))


def validate_config(config: PipelineConfig, registry: Registry | None = None, *, inputs: bool = False
                    ) -> ValidationReport:
    """All problems of a pipeline, without importing plugin code; ``inputs``: also check that the
    input files it names exist (``emoavatar validate``; a run may replace them on the command line)."""
    report = ValidationReport()
    registry = registry or get_registry()
    try:
        registry.check_strict()  # strict mode: the broken plugin once, by name, not once per stage
    except EmoAvatarError as e:
        report.problems.append(e)
        return report
    resolve_components(config, registry, report)
    if not report.problems:  # ports of a missing component would only repeat its error
        check_ports(report)
    if inputs:
        check_inputs(config, report)
    if config.inputs.emotion is not None:
        try:
            parse_emotion(config.inputs.emotion)
        except EmoAvatarError as e:
            report.problems.append(type(e)(f"inputs.emotion: {e.message}", fix=e.fix))
    return report
