"""pytest plugin registered by the core distribution: the kit's fixtures. Imports stay light."""

from __future__ import annotations

import pytest


@pytest.fixture
def kit_speech_path():
    from .data import kit_speech_path as p

    return p()


@pytest.fixture
def kit_portrait_path():
    from .data import kit_portrait_path as p

    return p()


@pytest.fixture
def kit_audio(kit_speech_path):
    from ..types import Audio

    return Audio.load(kit_speech_path)


@pytest.fixture
def kit_portrait():
    from .data import kit_portrait as load

    return load()


@pytest.fixture
def run_context(kit_audio):
    from ..interfaces import RunContext

    return RunContext(fps=25.0, n_frames=kit_audio.n_frames(25.0), seed=0)
