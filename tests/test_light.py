"""Listing and validating never import heavy plugin code (docs/architecture.md, "Registry")."""

import subprocess
import sys

from _support import EXAMPLES


def test_listing_and_validating_do_not_import_torch_or_model_code():
    code = f"""
import sys
from emoavatar.cli import main
assert main(["plugins", "--json"]) == 0
rc = main(["validate", r"{EXAMPLES / 'default.yaml'}"])
heavy = sorted(m for m in ("torch", "dlib", "pocketsphinx", "sentence_transformers", "transformers", "sklearn", "cv2")
               if m in sys.modules)
print("HEAVY", heavy, "RC", rc)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "HEAVY [] RC 0" in r.stdout, r.stdout + r.stderr
