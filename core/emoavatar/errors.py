"""Errors a user can cause. Each carries a one-line cause and, where known, a fix.

The CLI prints ``str(error)`` without a traceback (``--debug`` shows it) and exits non-zero.
"""

from __future__ import annotations


class EmoAvatarError(Exception):
    """Base class: ``EmoAvatarError("no face found in portrait.png", fix="use a frontal photo")``."""

    exit_code = 2

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(message if not fix else f"{message} (fix: {fix})")


class ConfigError(EmoAvatarError):
    """A pipeline YAML or option is wrong; the message starts with the YAML path."""


class PluginError(EmoAvatarError):
    """A plugin is missing, broken, or declares an unsupported core API version."""


class PortError(EmoAvatarError):
    """Two stages cannot be connected: what one produces is not what the next consumes."""


class EmotionError(EmoAvatarError):
    """An emotion request names an unknown emotion / AU or is malformed."""


class MediaError(EmoAvatarError):
    """An input file is missing, unreadable, corrupt, or lacks a needed stream."""


class FaceNotFoundError(EmoAvatarError):
    """The face analyzer found no face where one is needed."""


class WeightsNotFoundError(EmoAvatarError):
    """A neural component's checkpoint is missing; the message says what and where to put it."""


class OutputExistsError(EmoAvatarError):
    """Refusing to overwrite an existing output without ``--overwrite``."""


class OutputError(EmoAvatarError):
    """The output cannot be written: a folder, no space, read-only, too large, locked by another run."""
