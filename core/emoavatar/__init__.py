"""emoavatar: portrait + speech + emotion request -> emotional talking-head video.

The core defines the stages (:mod:`emoavatar.interfaces`), the data between them
(:mod:`emoavatar.types`), plugin discovery (:mod:`emoavatar.registry`), pipeline configs
(:mod:`emoavatar.config`) and the streaming runner (:mod:`emoavatar.pipeline`).
Importing this package is light: no torch, no plugin code.
"""

from .spec import API_VERSION, ComponentSpec

__version__ = "0.1.0"
__all__ = ["API_VERSION", "ComponentSpec", "Pipeline", "__version__"]


def __getattr__(name: str):
    if name == "Pipeline":
        from .pipeline import Pipeline

        return Pipeline
    raise AttributeError(name)
