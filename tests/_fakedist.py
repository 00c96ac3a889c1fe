"""Third-party plugin distributions for tests, made without pip: a ``NAME-VERSION.dist-info`` folder
(METADATA + entry_points.txt) and the package's modules in a folder put on ``sys.path``, which
``importlib.metadata`` discovers like an installed distribution."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest


def make_dist(root: Path, name: str, version: str, entry_points: dict[str, dict[str, str]],
              files: dict[str, str]) -> Path:
    """Write distribution ``name`` into ``root`` (put ``root`` on sys.path to install it)."""
    root.mkdir(parents=True, exist_ok=True)
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    eps = "".join(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in items.items()) + "\n"
                  for group, items in entry_points.items())
    (info / "entry_points.txt").write_text(eps)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


@pytest.fixture
def fake_dists(tmp_path, monkeypatch):
    """``fake_dists(name, version, entry_points, files)`` installs a distribution for this test only;
    the default registry and hook manager are rebuilt around it."""
    from emoavatar import hookspecs, registry

    roots: list[Path] = []
    modules_before = set(sys.modules)

    def install(name: str, version: str, entry_points: dict[str, dict[str, str]], files: dict[str, str]) -> Path:
        root = make_dist(tmp_path / f"site-{len(roots)}", name, version, entry_points, files)
        monkeypatch.syspath_prepend(str(root))
        roots.append(root)
        importlib.invalidate_caches()
        registry.reset_registry()
        return root

    monkeypatch.setattr(hookspecs, "_manager", None)
    monkeypatch.setattr(hookspecs, "BROKEN", [])
    registry.reset_registry()
    yield install
    registry.reset_registry()
    for mod in set(sys.modules) - modules_before:
        if any(str(getattr(sys.modules[mod], "__file__", "") or "").startswith(str(r)) for r in roots):
            del sys.modules[mod]
