# The AttRec study. Two commands matter: `make paper` (the main job) and `make test`; `make help` lists all.
# Every target depends on `setup`, so both work on a fresh machine with only Python 3.11.
# Set ATTREC_DATA_MIRROR=/path/to/mirror to read raw data from a local copy instead of the network.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]-*.ipynb))
PROFILE ?= full
FRESH ?= 0
PUBLISH ?= 0
DEBUG ?= 0
# NO_SETUP=1 uses $(VENV) as it is (e.g. another checkout's, VENV=../x/.venv) without reinstalling.
NO_SETUP ?= 0
SETUP := $(if $(filter 1,$(NO_SETUP)),,setup)
CLI := $(PY) -m attrec_lib $(if $(filter 1,$(DEBUG)),--debug,)
WORKERS ?=
ADDRESS ?=
GRID_PROFILE ?= quick

.PHONY: help setup paper plan test unit nbval bench bench-grid gpu-check goldens goldens-platform clean-data site site-test

help:  ## list the targets and variables
	@echo "make <target> [VARIABLE=value ...]"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  \1\t\2/' | expand -t 14
	@echo "variables:"
	@echo "  PROFILE=standard|full|quick|tiny  experiment profile (default full: the committed notebooks)"
	@echo "  PUBLISH=1    let a profile other than full replace the committed notebooks and figures"
	@echo "               (otherwise it writes build/<profile>/)"
	@echo "  FRESH=1      recompute every run this build needs instead of reading the cache"
	@echo "  DEBUG=1      show tracebacks instead of one-line errors"
	@echo "  WORKERS=N    runs at a time on a local Ray instance (default: every core; 0: in this process)"
	@echo "  ADDRESS=host:port  run on an existing Ray cluster instead (or set RAY_ADDRESS)"
	@echo "  ATTREC_DATA_MIRROR=DIR  read raw data from a local copy (environment variable)"

setup: $(VENV)/.installed  ## create .venv and install the library (runs first for every target)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e .
	touch $@

paper: $(SETUP)  ## print the plan, execute every notebook, publish only when all succeeded
	$(CLI) paper --profile $(PROFILE) $(if $(filter 1,$(FRESH)),--fresh,) $(if $(filter 1,$(PUBLISH)),--publish,) \
		$(if $(WORKERS),--workers $(WORKERS),) $(if $(ADDRESS),--address $(ADDRESS),) $(NOTEBOOKS)

plan: $(SETUP)  ## print runs needed / cached / to compute and the estimated time (per group of runs too), run nothing
	$(CLI) plan --profile $(PROFILE) --by-part

test: unit nbval  ## unit tests + nbval on the committed notebooks (writes nothing tracked)

unit: $(SETUP)  ## unit tests
	$(PY) -m pytest -q tests

# nbval re-executes the committed notebooks; their figures go to a temporary folder, removed after.
nbval: $(SETUP)  ## check the committed notebooks' outputs against a re-execution
	@tmp=$$(mktemp -d); ATTREC_FIGURES_DIR=$$tmp $(PY) -m pytest -q --nbval-lax -p no:cacheprovider $(NOTEBOOKS); \
	status=$$?; rm -rf "$$tmp"; exit $$status

bench: $(SETUP)  ## speed / memory benchmark (prints a table, writes bench/)
	$(PY) -m attrec_lib.bench

bench-grid: $(SETUP)  ## a profile's grid from an empty cache, serial vs local Ray: wall time, peak memory (GRID_PROFILE=quick)
	$(PY) -m attrec_lib.bench.grid_wall --profile $(GRID_PROFILE) --workers 0 $(or $(WORKERS),2)

goldens: $(SETUP)  ## recompute tests/goldens/ (after bumping RESULTS_VERSION when numbers change)
	$(PY) -m attrec_lib.goldens

goldens-platform: $(SETUP)  ## record this machine's exact copy of the goldens (refused beyond float rounding of them)
	$(PY) -m attrec_lib.goldens --platform

site: $(SETUP)  ## the study as static HTML in build/site/ (from the committed notebooks)
	$(PY) -m attrec_lib.site build

site-test: $(SETUP)  ## open every page of build/site/ in headless Chromium and check it (needs chromium, .[site])
	$(PY) -m attrec_lib.site check

# No `setup` here: the GPU machine has python3 with torch but no network to install from.
gpu-check:  ## <= 5 min bench on a CUDA card (dry run without CUDA); ML-100K from ATTREC_DATA_MIRROR or ./shared-data
	ATTREC_DATA_MIRROR=$${ATTREC_DATA_MIRROR:-shared-data} PYTHONPATH=. $(PYTHON) -m attrec_lib.bench.gpu_check

clean-data:  ## remove the processed data cache (raw files are kept)
	rm -rf data/processed
