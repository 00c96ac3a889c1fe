"""The one parser of ``EMOAVATAR_STRICT`` (docs/architecture.md, "Registry").

Off (default): a broken plugin is listed with its error and only pipelines using it fail.
On: any broken plugin fails ``validate``, ``run`` and ``plugins`` (after its table), once, by name.
Values, case-insensitive: on = ``1 true yes on``; off = unset, empty, ``0 false no off``.
Anything else is a :class:`~emoavatar.errors.ConfigError` listing these values.
"""

from __future__ import annotations

import os

from .errors import ConfigError

VARIABLE = "EMOAVATAR_STRICT"
ON = ("1", "true", "yes", "on")
OFF = ("", "0", "false", "no", "off")


def strict_mode(environ: dict | None = None) -> bool:
    raw = (os.environ if environ is None else environ).get(VARIABLE, "")
    value = raw.strip().lower()
    if value in ON:
        return True
    if value in OFF:
        return False
    raise ConfigError(f"{VARIABLE}={raw[:40]!r} is not understood",
                      fix=f"use one of {', '.join(ON)} (strict) or {', '.join(v for v in OFF if v)} or unset (lenient)")
