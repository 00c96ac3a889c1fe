import pytest


@pytest.fixture(autouse=True, scope="session")
def _moee_cache(tmp_path_factory):
    """Text-anchor embeddings are cached in a temporary folder, not the user's home."""
    mp = pytest.MonkeyPatch()
    mp.setenv("EMOAVATAR_CACHE", str(tmp_path_factory.mktemp("emoavatar_cache")))
    yield
    mp.undo()
