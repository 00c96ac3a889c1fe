"""Dataset readers (MEAD, CREMA-D, folder, CSV manifest): they live in the core, :mod:`emoavatar.datasets`,
so that every trainer reads datasets the same way; re-exported here for existing imports."""

from emoavatar.datasets import (  # noqa: F401
    READERS,
    ClipRecord,
    read_crema_d,
    read_dataset,
    read_folder,
    read_manifest,
    read_mead,
)
