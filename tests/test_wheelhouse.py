"""Install only what you use: wheels of the core and one plugin, in a fresh venv that has nothing but
torch, as the README's "Install only what you use" says.

The wheels are built the way `make dist` builds them (`pip wheel --no-deps --no-build-isolation`),
from a copy of the sources (so the test never writes build/ folders into the checkout). The fresh
venv gets torch==2.13.0 pre-installed by linking the running interpreter's torch and its
dependencies through a .pth file (unpacking the 900 MB wheel again would take minutes); everything
else comes from `pip install --find-links DIST ...`, its other dependencies from the package index.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from _support import ROOT, cli

pytestmark = pytest.mark.slow
NERF = ROOT / "plugins" / "renderers" / "nerf"
IGNORE = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist", "tests", ".pytest_cache")


def _run(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "EMOAVATAR_STRICT")}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _ok(r: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    return r


def _requirement_closure(name: str) -> list[metadata.Distribution]:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: dict[str, metadata.Distribution] = {}
    todo = [name]
    while todo:
        key = canonicalize_name(todo.pop())
        if key in seen:
            continue
        seen[key] = dist = metadata.distribution(key)
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return list(seen.values())


def _preinstall_torch(venv: Path, links: Path) -> None:
    """Make this interpreter's torch (and only what torch requires) importable in ``venv``."""
    links.mkdir()
    for dist in _requirement_closure("torch"):
        assert not dist.metadata["Name"].startswith("emoavatar")
        base = Path(dist.locate_file(""))
        tops = {Path(f).parts[0] for f in dist.files or [] if not str(f).startswith("..")} - {"__pycache__"}
        for top in tops:
            if (base / top).exists() and not (links / top).exists():
                (links / top).symlink_to(base / top)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "torch-preinstalled.pth").write_text(f"{links}\n")


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """dist/ with the core, emoavatar-plugin-nerf and a `new-plugin` renderer; a venv with only torch."""
    pytest.importorskip("torch")
    tmp = tmp_path_factory.mktemp("wheelhouse")
    src, dist, venv = tmp / "src", tmp / "dist", tmp / "venv"
    (src / "core").mkdir(parents=True)
    shutil.copytree(ROOT / "core", src / "core" / "core", ignore=IGNORE)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / "core" / name)
    shutil.copytree(NERF, src / "nerf", ignore=IGNORE)
    r = cli("new-plugin", "--kind", "renderer", "my-renderer", "--dir", str(src))
    assert r.returncode == 0, r.stderr
    generated = src / "emoavatar-plugin-my-renderer"
    _ok(_run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist),
              str(src / "core"), str(src / "nerf"), str(generated)], cwd=tmp))
    _ok(_run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp))
    _preinstall_torch(venv, tmp / "torch-site")
    py = venv / "bin" / "python"

    def pip(*args: str) -> subprocess.CompletedProcess:
        return _ok(_run([sys.executable, "-m", "pip", "--python", str(py), *args], cwd=tmp))

    (tmp / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow: slow tests\n")
    return {"tmp": tmp, "dist": dist, "venv": venv, "py": py, "pip": pip, "generated": generated}


def _plugins(fresh) -> list[tuple[str, str, str, str]]:
    """(name, kind, distribution, status) of every listed component not published by the core itself."""
    r = _ok(_run([str(fresh["venv"] / "bin" / "emoavatar"), "plugins", "--json"], cwd=fresh["tmp"]))
    return sorted((e["name"], e["kind"], e["distribution"], e["status"]) for e in json.loads(r.stdout)
                  if e["distribution"] != "emoavatar")


def _ours(fresh) -> set[str]:
    code = "import json; from importlib import metadata as m; print(json.dumps([d.metadata['Name'] for d in m.distributions()]))"
    r = _ok(_run([str(fresh["py"]), "-c", code], cwd=fresh["tmp"]))
    return {name for name in json.loads(r.stdout) if name.startswith("emoavatar")}


def _pytest(fresh, tests: Path, *extra: str) -> subprocess.CompletedProcess:
    return _run([str(fresh["py"]), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib",
                 "-c", str(fresh["tmp"] / "pytest.ini"), "--rootdir", str(tests), *extra, str(tests)],
                cwd=fresh["tmp"], timeout=600)


def test_nerf_installs_alone_from_the_wheelhouse_and_passes_its_tests(fresh):
    assert _run([str(fresh["py"]), "-c", "import torch"], cwd=fresh["tmp"]).returncode == 0
    assert _ours(fresh) == set()
    fresh["pip"]("install", "-q", "--no-compile", "--find-links", str(fresh["dist"]), "emoavatar-plugin-nerf")
    assert _ours(fresh) == {"emoavatar", "emoavatar-plugin-nerf"}
    assert _plugins(fresh) == [("nerf", "renderers", "emoavatar-plugin-nerf", "ok"),
                               ("nerf", "trainers", "emoavatar-plugin-nerf", "ok")]
    r = _ok(_run([str(fresh["venv"] / "bin" / "emoavatar"), "train"], cwd=fresh["tmp"]))
    assert [line.split()[0] for line in r.stdout.splitlines()] == ["nerf"]
    where = _ok(_run([str(fresh["py"]), "-c", "import emoavatar_nerf; print(emoavatar_nerf.__file__)"], cwd=fresh["tmp"]))
    assert where.stdout.startswith(str(fresh["venv"]))  # the wheel, not the checkout
    # the plugin's own tests (a copy, away from the checkout) against the installed wheel
    fresh["pip"]("install", "-q", "--no-compile", "pytest")
    tests = shutil.copytree(NERF / "tests", fresh["tmp"] / "nerf_tests", ignore=shutil.ignore_patterns("__pycache__"))
    r = _pytest(fresh, tests, "-m", "not slow", "-rs")
    assert r.returncode == 0 and " passed" in r.stdout, r.stdout[-3000:]
    print("\nnerf tests from the wheel:", r.stdout.strip().splitlines()[-1])


def test_a_new_plugin_wheel_installs_beside_only_the_core(fresh):
    fresh["pip"]("uninstall", "-y", "-q", "emoavatar-plugin-nerf")
    fresh["pip"]("install", "-q", "--no-compile", "--find-links", str(fresh["dist"]), "emoavatar-plugin-my-renderer", "pytest")
    assert _ours(fresh) == {"emoavatar", "emoavatar-plugin-my-renderer"}
    assert _plugins(fresh) == [("my-renderer", "renderers", "emoavatar-plugin-my-renderer", "ok")]
    tests = shutil.copytree(fresh["generated"] / "tests", fresh["tmp"] / "generated_tests")
    r = _pytest(fresh, tests)
    assert r.returncode == 0 and "2 passed" in r.stdout, r.stdout[-3000:]  # the contract suite
