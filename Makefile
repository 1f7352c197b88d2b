# Entry points for a fresh machine: `make demo` and `make test` (README), `make weights` and `make bench`
# (docs/weights.md, "Reproduce"). Each creates .venv (once) with what it needs; nothing else is assumed.
# `make demo` installs the package alone (its runtime dependencies); `make test`, `make weights` and
# `make bench` install every extra (`.[all]`: training, diffusers, ComfyUI test tools, Ray, test tools).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_STAMP := $(VENV)/.declip-demo-installed
STAMP := $(VENV)/.declip-installed
DATA ?= $(if $(DECLIP_DATA),$(DECLIP_DATA),data)

.PHONY: demo test test-fast venv weights bench clean-venv

$(DEMO_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $(DEMO_STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[all]"
	touch $(DEMO_STAMP) $(STAMP)

venv: $(STAMP)

demo: $(DEMO_STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m declip_core.demo

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

test-fast: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m "not slow"

# the shipped weights from scratch (hours on CPU: docs/weights.md); resumes where it stopped
weights: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python training/reproduce.py training/recipes/weights-v5.yaml --data $(DATA)

# the benchmark tables of docs/ (needs the photo collection of `make weights`)
bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python training/reproduce.py training/recipes/bench.yaml --data $(DATA)

clean-venv:
	rm -rf $(VENV)
