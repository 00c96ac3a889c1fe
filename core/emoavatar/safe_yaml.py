"""Reading user YAML safely: UTF-8 only, bounded size, bounded alias expansion, short messages.

Every YAML the user gives (pipeline files, ``--set KEY=VALUE`` values, ``--emotion`` flow text)
goes through :func:`load_text`. ``yaml.safe_load`` builds aliases as shared objects, so a
"billion laughs" document is small in memory until something walks it as a tree (pydantic,
``repr`` in an error message, ``copy``). :func:`expanded_size` counts the nodes such a walk
would visit, without walking it, and refuses more than :data:`MAX_NODES` (and self-reference).

Limits: ``EMOAVATAR_MAX_YAML_BYTES`` (default 1 MiB) and ``EMOAVATAR_MAX_YAML_NODES``
(default 100 000). Error messages show at most :data:`SHOW_CHARS` characters of user data.
"""

from __future__ import annotations

import os
import reprlib
from pathlib import Path
from typing import Any

from .errors import ConfigError, EmoAvatarError

MAX_BYTES = 1 << 20
MAX_NODES = 100_000
SHOW_CHARS = 80

_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxlist, _repr.maxdict, _repr.maxtuple, _repr.maxset = 3, 4, 4, 4, 4
_repr.maxstring, _repr.maxother, _repr.maxlong = 40, 40, 40


def brief(value: Any, limit: int = SHOW_CHARS) -> str:
    """A repr of user data fit for a one-line message: bounded work, at most ``limit`` chars."""
    text = _repr.repr(value) if not isinstance(value, str) else repr(value[: limit + 1])
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _limit(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={brief(raw)} is not a whole number", fix=f"unset it or give e.g. {default}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be > 0, got {value}")
    return value


def max_bytes() -> int:
    return _limit("EMOAVATAR_MAX_YAML_BYTES", MAX_BYTES)


def max_nodes() -> int:
    return _limit("EMOAVATAR_MAX_YAML_NODES", MAX_NODES)


def expanded_size(data: Any, limit: int) -> int | None:
    """Nodes visited by walking ``data`` as a tree (aliases counted each time they are used);
    None when above ``limit`` or when the data contains itself. Linear in the distinct nodes."""
    memo: dict[int, int] = {}
    active: set[int] = set()
    over = False

    def size(node: Any) -> int:
        nonlocal over
        if not isinstance(node, (dict, list)):
            return 1
        key = id(node)
        if key in memo:
            return memo[key]
        if key in active:  # a recursive alias: infinite expansion
            over = True
            return limit + 1
        active.add(key)
        total = 1
        items = list(node.items()) if isinstance(node, dict) else [(None, v) for v in node]
        for k, v in items:
            total += (size(k) if k is not None else 0) + size(v)
            if total > limit:
                over = True
                break
        active.discard(key)
        memo[key] = total
        return total

    try:
        n = size(data)
    except RecursionError:
        return None
    return None if over or n > limit else n


class InvalidYAML(ConfigError):
    """The text is not YAML at all (as opposed to too big or too expanding)."""


def _safe_load(text: str) -> Any:
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load_text(text: str, source: str, error: type[EmoAvatarError] = ConfigError) -> Any:
    """``yaml.safe_load`` with the limits above; problems raise ``error`` naming ``source``
    (syntax errors raise :class:`InvalidYAML` when ``error`` is ConfigError)."""
    import yaml

    limit = max_bytes()
    if len(text) > limit:
        raise error(f"{source} is {len(text.encode('utf-8', 'replace'))} bytes, above the limit of {limit}",
                    fix="a pipeline is a few hundred bytes; raise EMOAVATAR_MAX_YAML_BYTES if you really need more")
    try:
        data = _safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = " ".join(str(getattr(e, "problem", None) or e).split())[:120]
        raise (InvalidYAML if error is ConfigError else error)(f"{source}{where}: not valid YAML: {problem}") from None
    except RecursionError:
        raise error(f"{source}: YAML nested too deeply") from None
    nodes = max_nodes()
    if expanded_size(data, nodes) is None:
        raise error(f"{source}: YAML expands to more than {nodes} values (aliases used too often, or recursively)",
                    fix="write the values out; raise EMOAVATAR_MAX_YAML_NODES if this is intended")
    return data


def load_file(path: str | Path) -> Any:
    """Read a YAML file: must exist, be at most :func:`max_bytes` and be UTF-8."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"pipeline file not found: {path}")
    limit = max_bytes()
    size = path.stat().st_size
    if size > limit:
        raise ConfigError(f"{path} is {size} bytes, above the limit of {limit} for a pipeline YAML",
                          fix="check it is the right file; raise EMOAVATAR_MAX_YAML_BYTES if you really need more")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(f"{path} line {line}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start})",
                          fix="save the file as UTF-8") from None
    return load_text(text.removeprefix("\ufeff"), str(path))
