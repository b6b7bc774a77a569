# `make demo` and `make test` do all the set-up on a fresh machine: a virtual environment in .venv with torch
# (pinned to 2.13.0 only when no torch is installed: a CPU wheel here, the CUDA wheel on a Linux GPU box), then
# this package in editable mode.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0

.PHONY: setup test demo quality-cpu bench clean

setup: $(VENV)/.installed

# the package and what it runs on; `make test` adds the test tools ([dev]: pytest, import-linter, ...) on top
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet torch==$(TORCH_VERSION)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

# the layer contracts of pyproject.toml ([tool.importlinter]) first, then the test suite
test: $(VENV)/.installed-dev
	bash scripts/install_browser.sh $(PY)
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

demo: setup
	bash scripts/demo.sh $(PY)

# the synthetic benchmark with CPU-sized models (configs/experiment/cpu.yaml): data, the three models, the
# 20-replication protocol (10 decoding steps, MultiModality from the first replication), prompt adherence and GIFs;
# each training stage fitted into its minutes (VQ-VAE 16, evaluator 15, transformer 42: FIT=1 shortens a schedule
# that would not finish, its decays with it), and a rerun resumes an interrupted one (README: the wall time)
quality-cpu: setup
	EXPERIMENT=cpu OUT=outputs/quality_cpu VQ_MIN=16 EVALUATOR_MIN=15 TRANSFORMER_MIN=42 FIT=1 PY=$(PY) \
	  EVAL_ARGS="generation.steps=10 protocol.mm_replications=1" ADHERENCE_ARGS="--steps 10" bash scripts/quality.sh data.max_frames=160

bench: setup
	$(PY) scripts/bench.py

clean:
	rm -rf $(VENV) runs outputs
