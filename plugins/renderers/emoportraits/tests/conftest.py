import json
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def tiny_architecture() -> dict:
    return json.loads((DATA / "tiny_config.json").read_text())


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, tiny_architecture):
    """A reduced-size stage-1 model + head-pose regressor in the released file format (deterministic weights)."""
    from emoavatar_emoportraits.deterministic import write_random_checkpoint

    return write_random_checkpoint(tmp_path_factory.mktemp("emoportraits"), tiny_architecture)
