"""The plugin author's kit: tiny media fixtures and one contract suite per kind.

Installed as a pytest plugin (entry point ``pytest11``), so in any test::

    from emoavatar.testing.contracts import check_renderer

    def test_my_renderer(kit_portrait, run_context):
        check_renderer(MyRenderer(MyConfig()), kit_portrait, run_context)

Fixtures: ``kit_speech_path`` (2 s English speech, 16 kHz WAV), ``kit_portrait_path``
(256x256 PNG), ``kit_audio`` (:class:`~emoavatar.types.Audio`), ``kit_portrait``
(:class:`~emoavatar.types.Portrait` with precomputed 68 landmarks and embedding, no dlib
needed), ``run_context`` (fps 25, seed 0, n_frames of the kit speech).
"""

from .data import kit_portrait, kit_portrait_path, kit_speech_path

__all__ = ["kit_portrait", "kit_portrait_path", "kit_speech_path"]
