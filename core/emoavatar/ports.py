"""Ports enforced at run time (docs/architecture.md, "Ports" and "Runner").

Validation (:mod:`emoavatar.validate`) proves before a run that every consumed port has a producer.
While the pipeline runs, this module makes the declarations binding:

- a stage sees only the ports it declares (``consumes`` + ``optional``): the ``features`` mapping
  it is given is a :class:`DeclaredFeatures` view and ``ctx.ports`` a :class:`PortView`; reading
  anything else raises :class:`~emoavatar.errors.PortError` naming the plugin (distribution and
  version). An optional port nobody produced is simply absent (``ctx.ports.get(...)`` is None);
- every output is checked against the spec's ``produces`` (and, for ``motion:SPACE``, against the
  published motion space): an undeclared or malformed output raises PortError naming the plugin;
- encoders run in dependency order: one that consumes another encoder's port (``words``) runs
  after it, whatever order the YAML lists them in (:func:`order_encoders`);
- motion stages run in chain order: a later one reads the previous one's ``motion:SPACE`` from
  ``ctx.ports`` like any declared port; the renderer renders the last one's motion.

Port vocabulary: ``features:KIND`` (AudioFeatures), ``words`` (word timings
``[(word, start_s, end_s), ...]``, e.g. from a forced aligner), ``input:transcript`` (the run's
transcript text, a pipeline input), ``emotion`` (EmotionState), ``motion:SPACE`` (Motion),
``frames``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from .errors import PortError
from .spec import port_matches
from .types import AudioFeatures, EmotionState, FeatureSet, Motion

#: Ports the pipeline itself offers (inputs of the run), available to every stage that declares them.
INPUT_PORTS = ("input:transcript", "input:driving")
#: ``ctx.extras`` keys that were side channels before ports existed; stages never see them.
HIDDEN_EXTRAS = ("transcript", "words")
FIX_READ = "declare the port in the spec's consumes (required) or optional"
FIX_WRITE = "return only the ports listed in the spec's produces (or declare the new one)"


def plugin_label(comp: Any) -> str:
    """``encoders/hf-text (emoavatar-plugin-hf-speech 0.1.0)`` for a ResolvedComponent."""
    return f"{comp.kind}/{comp.spec.name} ({comp.distribution} {comp.version})"


def declared_inputs(spec: Any) -> tuple[str, ...]:
    return tuple(spec.consumes) + tuple(spec.optional)


def _declares(declared: tuple[str, ...], port: str) -> bool:
    return any(port_matches(port, want) for want in declared)


class PortView(Mapping):
    """``ctx.ports``: the run's port values restricted to what the stage declares."""

    def __init__(self, values: Mapping[str, Any], declared: tuple[str, ...], owner: str) -> None:
        self._values = dict(values)
        self._declared = tuple(declared)
        self._owner = owner

    def _guard(self, port: str) -> None:
        if not _declares(self._declared, port):
            raise PortError(f"{self._owner} read port {port} that its spec does not declare "
                            f"(declares: {', '.join(self._declared) or 'none'})", fix=FIX_READ)

    def __getitem__(self, port: str) -> Any:
        self._guard(port)
        return self._values[port]

    def get(self, port: str, default: Any = None) -> Any:
        self._guard(port)
        return self._values.get(port, default)

    def __contains__(self, port: object) -> bool:
        self._guard(str(port))
        return port in self._values

    def __iter__(self) -> Iterator[str]:
        return (p for p in self._values if _declares(self._declared, p))

    def __len__(self) -> int:
        return sum(1 for _ in self)


class DeclaredFeatures(FeatureSet):
    """The ``features`` argument of controllers and motion generators: only declared ``features:*``
    ports are present, and asking for an undeclared one raises PortError."""

    def __init__(self, features: Mapping[str, AudioFeatures], declared: tuple[str, ...], owner: str) -> None:
        super().__init__({k: v for k, v in features.items() if _declares(declared, f"features:{k}")})
        self._declared = tuple(declared)
        self._owner = owner

    def _guard(self, key: object) -> None:
        port = key if isinstance(key, str) and key.startswith("features:") else f"features:{key}"
        if not _declares(self._declared, port):
            raise PortError(f"{self._owner} read port {port} that its spec does not declare "
                            f"(declares: {', '.join(self._declared) or 'none'})", fix=FIX_READ)

    def __getitem__(self, key: object) -> AudioFeatures:
        self._guard(key)
        return super().__getitem__(key)

    def get(self, key: object, default: object = None):  # type: ignore[override]
        self._guard(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._guard(key)
        return super().__contains__(key)


class UndeclaredPort:
    """Stands in for a positional input (``emotion``) that a stage did not declare."""

    def __init__(self, port: str, owner: str) -> None:
        object.__setattr__(self, "_msg", f"{owner} read port {port} that its spec does not declare")

    def __getattr__(self, name: str) -> Any:
        raise PortError(object.__getattribute__(self, "_msg"), fix=FIX_READ)

    def __len__(self) -> int:
        raise PortError(object.__getattribute__(self, "_msg"), fix=FIX_READ)


def order_encoders(components: list[Any]) -> list[Any]:
    """Encoders (ResolvedComponents) so that each runs after the encoders producing ports it declares
    (required or optional); YAML order otherwise. PortError on a cycle."""
    encs = [c for c in components if c.kind == "encoders"]
    outs = {id(c): tuple(c.spec.ports_out(c.options)) for c in encs}
    deps = {id(c): [d for d in encs if d is not c and any(_declares(declared_inputs(c.spec), p) for p in outs[id(d)])]
            for c in encs}
    done: list[Any] = []
    state: dict[int, int] = {}  # 1 = visiting, 2 = done

    def visit(c: Any, chain: list[Any]) -> None:
        if state.get(id(c)) == 2:
            return
        if state.get(id(c)) == 1:
            loop = chain[chain.index(c):] + [c]
            raise PortError("encoders depend on each other in a cycle: " + " -> ".join(x.label for x in loop),
                            fix="remove one of the declarations so that one encoder can run first")
        state[id(c)] = 1
        for d in deps[id(c)]:
            visit(d, chain + [c])
        state[id(c)] = 2
        done.append(c)

    for c in encs:
        visit(c, [])
    return done


def _stage_ctx(ctx: Any, comp: Any, values: Mapping[str, Any]) -> Any:
    out = copy.copy(ctx)  # shares the seeded rng, so stages draw from one stream as before
    out.extras = {k: v for k, v in ctx.extras.items() if k not in HIDDEN_EXTRAS}
    out.ports = PortView(values, declared_inputs(comp.spec), plugin_label(comp))
    return out


class StageCaller:
    """Calls the stages of one run with only their declared ports and checks what they return."""

    def __init__(self, report: Any, registry: Any, ctx: Any, inputs: Mapping[str, Any] = ()) -> None:
        self.report, self.registry, self.ctx = report, registry, ctx
        self.values: dict[str, Any] = {k: v for k, v in dict(inputs).items() if v is not None}
        self.features = FeatureSet()

    def _fail(self, comp: Any, problem: str, fix: str = FIX_WRITE) -> PortError:
        return PortError(f"{plugin_label(comp)} {problem}", fix=fix)

    # -- encoders ------------------------------------------------------------------------
    def encode(self, audio: Any) -> FeatureSet:
        for comp in order_encoders(self.report.components):
            enc = self.registry.create(comp.kind, comp.spec.name, comp.options)
            out = enc.encode(audio, _stage_ctx(self.ctx, comp, self.values))
            for port, value in self._encoder_outputs(comp, out).items():
                if port.startswith("features:"):
                    self.features.add(value)
                self.values[port] = value
        return self.features

    def _encoder_outputs(self, comp: Any, out: Any) -> dict[str, Any]:
        """``{port: value}`` of an encoder's result: its ``features:KIND`` plus ``out.ports``."""
        declared = tuple(comp.spec.ports_out(comp.options))
        if not isinstance(out, AudioFeatures):
            raise self._fail(comp, f"returned {type(out).__name__}; an encoder returns AudioFeatures")
        port = f"features:{out.kind}"
        if len(out) != self.ctx.n_frames:
            raise self._fail(comp, f"returned {len(out)} rows of {port} for {self.ctx.n_frames} frames",
                             fix="return ctx.n_frames rows")
        ports = {port: out, **dict(out.ports)}
        for p in ports:
            if p not in declared:
                raise self._fail(comp, f"returned port {p} that its spec does not declare "
                                 f"(produces: {', '.join(declared) or 'none'})")
            if p != port and p.startswith("features:"):
                raise self._fail(comp, f"returned {p} in AudioFeatures.ports; an encoder produces one features port")
        missing = [p for p in declared if p not in ports]
        if missing:
            raise self._fail(comp, f"did not return declared port(s) {', '.join(missing)}",
                             fix="return every port in the spec's produces (others in AudioFeatures.ports)")
        return ports

    # -- controller, motion, renderer ----------------------------------------------------
    def _comp(self, path: str) -> Any:
        return self.report.by_path(path)

    def _features_for(self, comp: Any) -> DeclaredFeatures:
        return DeclaredFeatures(self.features, declared_inputs(comp.spec), plugin_label(comp))

    def control(self, controller: Any, request: Any) -> EmotionState:
        comp = self._comp("controller")
        state = controller.control(request, self._features_for(comp), _stage_ctx(self.ctx, comp, self.values))
        if not isinstance(state, EmotionState):
            raise self._fail(comp, f"returned {type(state).__name__}; the emotion port carries an EmotionState")
        if len(state) != self.ctx.n_frames:
            raise self._fail(comp, f"returned {len(state)} emotion rows for {self.ctx.n_frames} frames",
                             fix="return ctx.n_frames rows")
        self.values["emotion"] = state
        return state

    def generate(self, generator: Any, emotion: EmotionState, portrait: Any, path: str = "motion") -> Motion:
        """Run the motion stage at YAML ``path`` (``motion[1]`` in a chain: it reads the previous stage's
        ``motion:SPACE`` from ``ctx.ports``, as any declared port)."""
        from .spaces import check_motion

        comp = self._comp(path)
        declared = declared_inputs(comp.spec)
        given = emotion if _declares(declared, "emotion") else UndeclaredPort("emotion", plugin_label(comp))
        motion = generator.generate(self._features_for(comp), given, portrait, _stage_ctx(self.ctx, comp, self.values))
        if not isinstance(motion, Motion):
            raise self._fail(comp, f"returned {type(motion).__name__}; a motion generator returns Motion")
        produced = tuple(comp.spec.ports_out(comp.options))
        port = f"motion:{motion.space}"
        if port not in produced:
            raise self._fail(comp, f"returned port {port} that its spec does not declare "
                             f"(produces: {', '.join(produced) or 'none'})")
        problems = check_motion(motion, self.registry.space(motion.space), self.ctx.n_frames)
        if problems:
            raise self._fail(comp, f"returned a {port} that does not fit the published space: {'; '.join(problems)}",
                             fix=f"see `emoavatar plugins --kind spaces` for the tracks of {motion.space}")
        self.values[port] = motion
        return motion

    def renderer(self, renderer: Any) -> "CheckedRenderer":
        return CheckedRenderer(renderer, self._comp("renderer"), self)


class CheckedRenderer:
    """A renderer whose chunks are checked: uint8 ``[N, H, W, 3]``, one frame per motion row, one size."""

    def __init__(self, inner: Any, comp: Any, caller: StageCaller) -> None:
        self.inner, self.comp, self.caller = inner, comp, caller
        self.ctx = _stage_ctx(caller.ctx, comp, caller.values)
        self._size: tuple[int, ...] | None = None

    def __getattr__(self, name: str) -> Any:  # anything else is the renderer's own
        return getattr(self.inner, name)

    def prepare(self, portrait: Any, ctx: Any = None) -> None:
        self.inner.prepare(portrait, self.ctx)

    def render(self, motion: Motion, ctx: Any = None) -> np.ndarray:
        if not _declares(declared_inputs(self.comp.spec), f"motion:{motion.space}"):
            raise PortError(f"{plugin_label(self.comp)} would read port motion:{motion.space} that its spec does "
                            "not declare", fix=FIX_READ)
        frames = self.inner.render(motion, self.ctx)
        ok = isinstance(frames, np.ndarray) and frames.dtype == np.uint8 and frames.ndim == 4 and frames.shape[3] == 3
        if not ok:
            what = f"{frames.dtype} {frames.shape}" if isinstance(frames, np.ndarray) else type(frames).__name__
            raise self.caller._fail(self.comp, f"returned {what} frames; expected uint8 [N, H, W, 3]",
                                    fix="return uint8 RGB frames")
        if len(frames) != len(motion):
            raise self.caller._fail(self.comp, f"returned {len(frames)} frames for {len(motion)} motion rows",
                                    fix="return one frame per motion row")
        if self._size is None:
            self._size = frames.shape[1:]
        elif frames.shape[1:] != self._size:
            raise self.caller._fail(self.comp, f"changed the frame size from {self._size} to {frames.shape[1:]}",
                                    fix="render every chunk at the same size")
        return frames
