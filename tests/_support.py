import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
BIN = Path(sys.executable).parent


def cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed `emoavatar` command; returns the completed process (never raises)."""
    import os

    full_env = {**os.environ, **(env or {})}
    return subprocess.run([str(BIN / "emoavatar"), *args], capture_output=True, text=True, env=full_env,
                          cwd=cwd, timeout=600)


@pytest.fixture
def examples() -> Path:
    return EXAMPLES
