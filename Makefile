# The AttRec study. Two commands matter: `make paper` (the main job) and `make test`.
# Every target depends on `setup`, so both work on a fresh machine with only Python 3.11.
#   make paper                 execute every notebooks/NN-*.ipynb in place (cached runs are reused)
#   make paper PROFILE=quick   ML-100K only, one seed, fewer sweep points (about 10 min on 2 cores)
#   make paper FRESH=1         recompute every run this build needs instead of reading the cache
#   make paper WORKERS=4       runs at a time on a local Ray instance (default: every core; 0: no Ray)
#   make paper ADDRESS=host:port   run on an existing Ray cluster (or set RAY_ADDRESS)
#   make test                  unit tests + nbval on the committed notebooks
#   make bench                 speed / memory benchmark (prints a table, writes bench/)
# Set ATTREC_DATA_MIRROR=/path/to/mirror to read raw data from a local copy instead of the network.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]-*.ipynb))
PROFILE ?= full
FRESH ?= 0
WORKERS ?=
ADDRESS ?=

.PHONY: setup paper test unit nbval bench clean-data

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e .
	touch $@

paper: setup
	$(PY) -m attrec_lib.paper --profile $(PROFILE) $(if $(filter 1,$(FRESH)),--fresh,) \
		$(if $(WORKERS),--workers $(WORKERS),) $(if $(ADDRESS),--address $(ADDRESS),) $(NOTEBOOKS)

test: unit nbval

unit: setup
	$(PY) -m pytest -q tests

nbval: setup
	$(PY) -m pytest -q --nbval-lax -p no:cacheprovider $(NOTEBOOKS)

bench: setup
	$(PY) -m attrec_lib.bench

clean-data:
	rm -rf data/processed
