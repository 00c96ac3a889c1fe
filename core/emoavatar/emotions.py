"""The emotion vocabulary and the one parser for emotion requests (docs/architecture.md, "Ports").

A request may be:

- a label: ``happy`` (aliases: ``joy``, ``anger``, CREMA-D codes ``HAP``/``ANG``/...);
- a weighted mix, MoEE's compound emotions: ``{happy: 0.6, surprised: 0.4}``;
- a timeline, EmoHead's emotion change while talking:
  ``[{at: 0, emotion: neutral}, {at: 2.0, emotion: {happy: 0.5, surprised: 0.5}}]``;
- a text prompt: ``{text: "I can't believe we won!"}``;
- ``from_audio`` (arousal/valence from the speech itself);
- FACS action-unit overrides ``{emotion: happy, au: {AU12: 0.8}}`` and an ``intensity``;
  an AU prompt (MoEE's AU-aware control) is the same as text: ``"AU6+AU12, strong"`` or
  ``{au: "AU1+AU2:0.5"}`` (strength words: trace, slight/weak, moderate, strong, max);
- region gates (MoEE's local gating): ``{regions: {mouth: happy, brows: surprised}}``, each
  region holding a label or mix; ``emotion`` (default neutral) covers the regions not named.
  Region names are the controller's (``moee``: brows, eyes, mouth).

From the command line the same structures are written as YAML flow text, e.g.
``--emotion "{happy: .6, surprised: .4}"``; a plain word is a label.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import EmotionError
from .safe_yaml import brief

#: MEAD's eight emotions; every EmotionState's weights are over this vocabulary, in this order.
EMOTIONS: tuple[str, ...] = (
    "neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised", "contempt",
)

ALIASES: dict[str, str] = {
    "calm": "neutral", "none": "neutral", "neu": "neutral",
    "happiness": "happy", "joy": "happy", "joyful": "happy", "hap": "happy",
    "sadness": "sad", "unhappy": "sad",
    "anger": "angry", "mad": "angry", "ang": "angry",
    "fear": "fearful", "afraid": "fearful", "scared": "fearful", "fea": "fearful",
    "disgust": "disgusted", "dis": "disgusted",
    "surprise": "surprised", "sur": "surprised",
    "contemptuous": "contempt", "con": "contempt",
}

#: FACS action units the framework knows (names ``AU<n>``), with a short gloss.
ACTION_UNITS: dict[str, str] = {
    "AU1": "inner brow raiser", "AU2": "outer brow raiser", "AU4": "brow lowerer",
    "AU5": "upper lid raiser", "AU6": "cheek raiser", "AU7": "lid tightener",
    "AU9": "nose wrinkler", "AU10": "upper lip raiser", "AU12": "lip corner puller",
    "AU14": "dimpler", "AU15": "lip corner depressor", "AU16": "lower lip depressor",
    "AU17": "chin raiser", "AU20": "lip stretcher", "AU23": "lip tightener",
    "AU24": "lip pressor", "AU25": "lips part", "AU26": "jaw drop", "AU27": "mouth stretch",
    "AU43": "eyes closed", "AU45": "blink",
}

_REQUEST_KEYS = {"emotion", "label", "mix", "timeline", "text", "from_audio", "au", "intensity", "transition",
                 "regions"}

#: AU prompt strength words -> AU target (FACS intensity letters A-E read the same way).
AU_STRENGTHS: dict[str, float] = {
    "trace": 0.2, "a": 0.2, "slight": 0.35, "weak": 0.35, "b": 0.35, "moderate": 0.6, "medium": 0.6, "c": 0.6,
    "strong": 0.85, "marked": 0.85, "d": 0.85, "max": 1.0, "maximum": 1.0, "extreme": 1.0, "e": 1.0,
}
_AU_PROMPT = re.compile(r"^\s*au\s*\d+", re.IGNORECASE)


def canonical_emotion(name: str) -> str:
    """``'Anger'`` -> ``'angry'``; raise :class:`EmotionError` naming the vocabulary otherwise."""
    key = str(name).strip().lower()
    if key in EMOTIONS:
        return key
    if key in ALIASES:
        return ALIASES[key]
    raise EmotionError(
        f"unknown emotion {brief(name)}",
        fix=f"use one of {', '.join(EMOTIONS)} (or an alias such as anger, fear, HAP)",
    )


def canonical_au(name: str | int) -> str:
    """``12``, ``'au12'``, ``'AU 12'`` -> ``'AU12'``."""
    m = re.fullmatch(r"(?:au)?\s*0*(\d+)", str(name).strip().lower())
    key = f"AU{m.group(1)}" if m else str(name)
    if key not in ACTION_UNITS:
        raise EmotionError(f"unknown action unit {brief(name)}", fix=f"use one of {', '.join(ACTION_UNITS)}")
    return key


@dataclass(frozen=True)
class EmotionSegment:
    """From ``start`` seconds on (until the next segment), the emotion is ``mix``."""

    start: float
    mix: Mapping[str, float]
    intensity: float | None = None


@dataclass(frozen=True)
class EmotionRequest:
    """A parsed, validated request. Exactly one source: ``segments``, ``text`` or ``from_audio``."""

    segments: tuple[EmotionSegment, ...] = ()
    text: str | None = None
    from_audio: bool = False
    au: Mapping[str, float] = field(default_factory=dict)
    intensity: float = 1.0
    transition: float = 0.3
    #: ``{region: mix}``: per-region emotions (local gates); empty = the whole face follows ``segments``.
    regions: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return "text" if self.text else "audio" if self.from_audio else "labels"

    def describe(self) -> str:
        if self.text:
            head = f"text {self.text!r}"
        elif self.from_audio:
            head = "from_audio"
        else:
            head = "; ".join(
                f"{s.start:g}s " + "+".join(f"{k}:{v:.2f}" for k, v in s.mix.items()) for s in self.segments
            )
        extra = f", AU {dict(self.au)}" if self.au else ""
        if self.regions:
            extra += ", regions " + "; ".join(
                f"{r}: " + "+".join(f"{k}:{v:.2f}" for k, v in m.items()) for r, m in self.regions.items())
        return f"{head} @ intensity {self.intensity:g}{extra}"


def parse_mix(value: Any) -> dict[str, float]:
    """A label or ``{emotion: weight}`` -> weights over canonical names, summing to 1."""
    if isinstance(value, str):
        text = value.strip()
        if "+" in text or "," in text:  # "happy+surprised", "happy:0.6,surprised:0.4"
            parts = [p for p in re.split(r"[+,]", text) if p.strip()]
            value = {}
            for p in parts:
                name, _, w = p.partition(":") if ":" in p else p.partition("=")
                value[name.strip()] = float(w) if w.strip() else 1.0
        else:
            return {canonical_emotion(text): 1.0}
    if not isinstance(value, Mapping) or not value:
        raise EmotionError(f"an emotion must be a label or a {{emotion: weight}} mix, got {brief(value)}")
    mix: dict[str, float] = {}
    for name, w in value.items():
        try:
            w = float(w)
        except (TypeError, ValueError):
            raise EmotionError(f"weight of {brief(name)} must be a number, got {brief(w)}") from None
        if not math.isfinite(w) or w < 0:
            raise EmotionError(f"weight of {brief(name)} must be >= 0 and finite, got {w}")
        key = canonical_emotion(name)
        mix[key] = mix.get(key, 0.0) + w
    total = sum(mix.values())
    if total <= 0:
        raise EmotionError(f"mix {brief(dict(value))} has no positive weight")
    return {k: v / total for k, v in mix.items() if v > 0}


def parse_au_prompt(text: str) -> dict[str, float]:
    """``"AU6+AU12, strong"`` / ``"AU1:0.6 + AU2 slight"`` -> ``{AU6: 0.85, AU12: 0.85}``.

    AUs are joined by ``+`` or ``,``; each may carry ``:VALUE`` or its own strength word; a
    strength word on its own applies to every AU without one (default ``strong``)."""
    default = AU_STRENGTHS["strong"]
    found: list[tuple[str, float | None]] = []
    for part in (p.strip() for p in re.split(r"[+,]", str(text)) if p.strip()):
        low = part.lower()
        if low in AU_STRENGTHS and not low.startswith("au"):
            default = AU_STRENGTHS[low]
            continue
        m = re.fullmatch(r"(au\s*\d+)\s*(?:[:=]\s*([0-9.]+)|\s+([a-z]+))?", low)
        if not m:
            raise EmotionError(f"cannot read AU prompt part {part!r} in {text!r}",
                               fix="write e.g. 'AU6+AU12, strong' or 'AU1:0.6+AU2:0.4'")
        value = None
        if m.group(2):
            value = _parse_intensity(m.group(2), f"{m.group(1).upper()} value")
        elif m.group(3):
            if m.group(3) not in AU_STRENGTHS:
                raise EmotionError(f"unknown AU strength {m.group(3)!r}", fix=f"use one of {', '.join(AU_STRENGTHS)}")
            value = AU_STRENGTHS[m.group(3)]
        found.append((canonical_au(m.group(1).upper()), value))
    if not found:
        raise EmotionError(f"AU prompt {text!r} names no action unit", fix="write e.g. 'AU6+AU12, strong'")
    return {name: default if value is None else value for name, value in found}


def _parse_regions(value: Any) -> dict[str, dict[str, float]]:
    if not isinstance(value, Mapping) or not value:
        raise EmotionError(f"regions must be a mapping like {{mouth: happy, brows: surprised}}, got {value!r}")
    out = {}
    for name, mix in value.items():
        key = str(name).strip().lower()
        if not re.fullmatch(r"[a-z][a-z0-9_]*", key):
            raise EmotionError(f"bad region name {name!r}", fix="use a region name such as brows, eyes, mouth")
        out[key] = parse_mix(mix)
    return out


def _parse_intensity(value: Any, where: str = "intensity") -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise EmotionError(f"{where} must be a number in [0, 1], got {brief(value)}") from None
    if not 0.0 <= v <= 1.0:
        raise EmotionError(f"{where} must be in [0, 1], got {v}")
    return v


def _parse_timeline(items: Any) -> tuple[EmotionSegment, ...]:
    if not isinstance(items, list) or not items:
        raise EmotionError("a timeline must be a non-empty list of {at: SECONDS, emotion: ...}")
    segs = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or "emotion" not in item:
            raise EmotionError(f"timeline[{i}] must be {{at: SECONDS, emotion: ...}}, got {brief(item)}")
        unknown = set(item) - {"at", "emotion", "intensity"}
        if unknown:
            raise EmotionError(f"timeline[{i}] has unknown key(s) {brief(sorted(map(str, unknown)))}")
        at = item.get("at", 0.0 if i == 0 else None)
        try:
            at = float(at)
        except (TypeError, ValueError):
            raise EmotionError(f"timeline[{i}].at must be seconds, got {brief(at)}") from None
        if not math.isfinite(at):
            raise EmotionError(f"timeline[{i}].at must be a finite number of seconds, got {at}")
        inten = _parse_intensity(item["intensity"], f"timeline[{i}].intensity") if "intensity" in item else None
        segs.append(EmotionSegment(at, parse_mix(item["emotion"]), inten))
    starts = [s.start for s in segs]
    if starts != sorted(starts) or starts[0] < 0:
        raise EmotionError(f"timeline times must be >= 0 and increasing, got {brief(starts)}")
    if starts[0] > 0:
        segs.insert(0, EmotionSegment(0.0, {"neutral": 1.0}))
    return tuple(segs)


def parse_emotion(spec: Any) -> EmotionRequest:
    """Parse any accepted form (see module doc) into an :class:`EmotionRequest`."""
    if isinstance(spec, EmotionRequest):
        return spec
    if spec is None:
        return EmotionRequest(segments=(EmotionSegment(0.0, {"neutral": 1.0}),))
    if isinstance(spec, str):
        text = spec.strip()
        if text.lower() in {"from_audio", "from-audio", "audio"}:
            return EmotionRequest(from_audio=True)
        if text.startswith(("{", "[")):
            from .safe_yaml import load_text

            return parse_emotion(load_text(text, f"cannot read emotion {brief(text, 40)}", EmotionError))
        if text.lower().startswith("text:"):
            return EmotionRequest(text=text[5:].strip())
        if _AU_PROMPT.match(text):
            return EmotionRequest(segments=(EmotionSegment(0.0, {"neutral": 1.0}),), au=parse_au_prompt(text))
        return EmotionRequest(segments=(EmotionSegment(0.0, parse_mix(text)),))
    if isinstance(spec, list):
        return EmotionRequest(segments=_parse_timeline(spec))
    if not isinstance(spec, Mapping):
        raise EmotionError(f"cannot read emotion request {brief(spec)}")
    keys = set(spec)
    if not keys & _REQUEST_KEYS:  # a bare mix {happy: .6, surprised: .4}
        return EmotionRequest(segments=(EmotionSegment(0.0, parse_mix(spec)),))
    unknown = keys - _REQUEST_KEYS
    if unknown:
        raise EmotionError(
            f"emotion request has unknown key(s) {brief(sorted(map(str, unknown)))}", fix=f"use {sorted(_REQUEST_KEYS)}"
        )
    sources = [k for k in ("emotion", "label", "mix", "timeline", "text", "from_audio") if spec.get(k) not in (None, False)]
    if len(sources) > 1:
        raise EmotionError(f"emotion request names several sources {sources}; give exactly one")
    segments: tuple[EmotionSegment, ...] = ()
    text = None
    from_audio = False
    src = sources[0] if sources else None
    if src in ("emotion", "label", "mix"):
        value = spec[src]
        segments = _parse_timeline(value) if isinstance(value, list) else (EmotionSegment(0.0, parse_mix(value)),)
    elif src == "timeline":
        segments = _parse_timeline(spec["timeline"])
    elif src == "text":
        text = str(spec["text"]).strip()
        if not text:
            raise EmotionError("emotion text prompt is empty")
    elif src == "from_audio":
        from_audio = True
    else:
        segments = (EmotionSegment(0.0, {"neutral": 1.0}),)
    au_in = spec.get("au") or {}
    if isinstance(au_in, str):
        au_in = parse_au_prompt(au_in)
    if not isinstance(au_in, Mapping):
        raise EmotionError(f"au must be a mapping like {{AU12: 0.8}}, got {brief(au_in)}")
    au = {canonical_au(k): _parse_intensity(v, f"au.{str(k)[:40]}") for k, v in au_in.items()}
    intensity = _parse_intensity(spec.get("intensity", 1.0))
    try:
        transition = float(spec.get("transition", 0.3))
    except (TypeError, ValueError):
        raise EmotionError(f"transition must be seconds, got {brief(spec.get('transition'))}") from None
    if not math.isfinite(transition) or transition < 0:
        raise EmotionError(f"transition must be a finite number >= 0 seconds, got {transition}")
    regions = _parse_regions(spec["regions"]) if spec.get("regions") is not None else {}
    return EmotionRequest(segments, text, from_audio, au, intensity, transition, regions)
