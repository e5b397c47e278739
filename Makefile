# The AttRec study. Two commands matter: `make paper` (the main job) and `make test`.
# Every target depends on `setup`, so both work on a fresh machine with only Python 3.11.
#   make paper                 execute every notebooks/NN-*.ipynb in place (cached runs are reused)
#   make paper PROFILE=quick   ML-100K only, one seed, fewer sweep points (about 10 min on 2 cores)
#   make paper FRESH=1         recompute every run this build needs instead of reading the cache
#   make test                  unit tests + nbval on the committed notebooks
#   make bench                 speed / memory benchmark (prints a table, writes bench/)
#   make gpu-check             <= 5 min timing on a CUDA card, no install needed (dry run without CUDA);
#                              reads ML-100K from ATTREC_DATA_MIRROR (default: ./shared-data), writes bench/gpu-*.json
# Set ATTREC_DATA_MIRROR=/path/to/mirror to read raw data from a local copy instead of the network.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]-*.ipynb))
PROFILE ?= full
FRESH ?= 0

.PHONY: setup paper test unit nbval bench gpu-check clean-data

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e .
	touch $@

paper: setup
	$(PY) -m attrec_lib.paper --profile $(PROFILE) $(if $(filter 1,$(FRESH)),--fresh,) $(NOTEBOOKS)

test: unit nbval

unit: setup
	$(PY) -m pytest -q tests

nbval: setup
	$(PY) -m pytest -q --nbval-lax -p no:cacheprovider $(NOTEBOOKS)

bench: setup
	$(PY) -m attrec_lib.bench

# No `setup` here: the GPU machine has python3 with torch but no network to install from.
gpu-check:
	ATTREC_DATA_MIRROR=$${ATTREC_DATA_MIRROR:-shared-data} PYTHONPATH=. $(PYTHON) -m attrec_lib.bench.gpu_check

clean-data:
	rm -rf data/processed
