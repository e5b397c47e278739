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
ALLOW_MISSING_DATA ?= 0
# NO_SETUP=1 uses $(VENV) as it is (e.g. another checkout's, VENV=../x/.venv) without reinstalling.
NO_SETUP ?= 0
# A yes/no variable: 1/yes/true/on (any case) is yes, 0/no/false/off or empty is no, anything else
# stops make with one line naming the variable (exit code 2).
YES_WORDS := 1 yes true on YES TRUE ON Yes True On y Y
NO_WORDS := 0 no false off NO FALSE OFF No False Off n N
flag = $(if $(filter $(YES_WORDS),$($(1))),1,$(if $(filter-out $(NO_WORDS),$($(1))),$(error $(1)=$($(1)) is not a yes/no value: use 1, yes or true (or 0, no, false)),))
FRESH_FLAG := $(call flag,FRESH)
PUBLISH_FLAG := $(call flag,PUBLISH)
DEBUG_FLAG := $(call flag,DEBUG)
ALLOW_MISSING_DATA_FLAG := $(call flag,ALLOW_MISSING_DATA)
NO_SETUP_FLAG := $(call flag,NO_SETUP)
SETUP := $(if $(NO_SETUP_FLAG),,setup)
CLI := $(PY) -m attrec_lib $(if $(DEBUG_FLAG),--debug,)
WORKERS ?=
ADDRESS ?=
GRID_PROFILE ?= quick

.PHONY: help setup lock paper readme plan test imports unit nbval bench bench-study bench-grid verify-sample gpu-check gpu-study goldens goldens-platform clean-data site site-test

help:  ## list the targets and variables
	@echo "make <target> [VARIABLE=value ...]"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  \1\t\2/' | expand -t 14
	@echo "variables:"
	@echo "  PROFILE=standard|full|quick|tiny  experiment profile (default full: the committed notebooks)"
	@echo "  PUBLISH=1    let a profile other than full replace the committed notebooks and figures"
	@echo "               (otherwise it writes build/<profile>/)"
	@echo "  ALLOW_MISSING_DATA=1  publish even though data sets the committed notebooks have are absent here"
	@echo "  FRESH=1      recompute every run this build needs instead of reading the cache"
	@echo "  DEBUG=1      show tracebacks instead of one-line errors"
	@echo "  (yes/no variables take 1, yes, true or 0, no, false; anything else is an error)"
	@echo "  WORKERS=N    runs at a time on a local Ray instance (default: every core; 0: in this process)"
	@echo "  ADDRESS=host:port  run on an existing Ray cluster instead (or set RAY_ADDRESS)"
	@echo "  ATTREC_DATA_MIRROR=DIR  read raw data from a local copy (environment variable)"

setup: $(VENV)/.installed  ## create .venv and install the locked environment and the library (runs first for every target)

# requirements.lock pins every package (direct and below) with its sha256 hashes; pip refuses any
# file whose hash differs. The library itself is installed without dependencies on top.
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# Where the CPU build of torch comes from when the lock is re-solved: this machine's wheel folder,
# else PyTorch's CPU index (PyPI's Linux torch is the CUDA build).
TORCH_SOURCE ?= $(if $(wildcard /opt/wheels/torch-*),--find-links /opt/wheels,--extra-index-url https://download.pytorch.org/whl/cpu)
lock:  ## re-solve requirements.lock after a pin in pyproject.toml changed (uv, with hashes; other versions kept)
	$(PYTHON) -m venv build/lock-tools
	build/lock-tools/bin/pip install --quiet --disable-pip-version-check uv==0.13.9
	build/lock-tools/bin/uv pip compile pyproject.toml --python-version 3.11.7 --python-platform x86_64-manylinux_2_28 \
		--generate-hashes --no-emit-index-url --no-emit-find-links --index-strategy unsafe-best-match \
		--quiet $(TORCH_SOURCE) -o requirements.lock

paper: $(SETUP)  ## print the plan, execute every notebook, publish only when all succeeded
	$(CLI) paper --profile $(PROFILE) $(if $(FRESH_FLAG),--fresh,) $(if $(PUBLISH_FLAG),--publish,) \
		$(if $(ALLOW_MISSING_DATA_FLAG),--allow-missing-data,) \
		$(if $(WORKERS),--workers $(WORKERS),) $(if $(ADDRESS),--address $(ADDRESS),) $(NOTEBOOKS)

readme: $(SETUP)  ## rewrite the README's generated blocks (findings, measured speed) from figures/ and bench/
	$(PY) -m attrec_lib.report.readme

plan: $(SETUP)  ## print runs needed / cached / to compute and the estimated time (per group of runs too), run nothing
	$(CLI) plan --profile $(PROFILE) --by-part

test: imports unit nbval  ## import contracts, unit tests, nbval on the committed notebooks (writes nothing tracked)

# The contracts live in pyproject.toml ([tool.importlinter]): layers import downward only, no
# cycles inside a package. Cheap (under a second), so make test runs it first.
imports: $(SETUP)  ## check the import contracts (import-linter; no cache written)
	$(VENV)/bin/lint-imports --no-cache

unit: $(SETUP)  ## unit tests
	$(PY) -m pytest -q tests

# nbval re-executes the committed notebooks; their figures go to a temporary folder, removed after.
nbval: $(SETUP)  ## check the committed notebooks' outputs against a re-execution
	@tmp=$$(mktemp -d); ATTREC_FIGURES_DIR=$$tmp $(PY) -m pytest -q --nbval-lax -p no:cacheprovider $(NOTEBOOKS); \
	status=$$?; rm -rf "$$tmp"; exit $$status

bench: $(SETUP)  ## speed / memory benchmark (prints a table, writes bench/)
	$(PY) -m attrec_lib.bench

# AGAINST=<commit> also measures that commit's code, alternating with this one.
bench-study: $(SETUP)  ## every model's s/epoch, s/eval and floor at one thread; the committed runs' cost in core-hours
	$(PY) -m attrec_lib.bench.study_cost $(if $(AGAINST),--against $(AGAINST),)

verify-sample: $(SETUP)  ## recompute one committed run per model (ML-100K, drawn with SEED) in fresh processes; bit-identical?
	$(PY) -m attrec_lib.report.verify_sample --seed $(or $(SEED),0) $(VERIFY_ARGS)

bench-grid: $(SETUP)  ## a profile's grid from an empty cache, serial vs local Ray: wall time, peak memory (GRID_PROFILE=quick)
	$(PY) -m attrec_lib.bench.grid_wall --profile $(GRID_PROFILE) --workers 0 $(or $(WORKERS),2)

goldens: $(SETUP)  ## recompute tests/goldens/ (after bumping RESULTS_VERSION when numbers change)
	$(PY) -m attrec_lib.report.goldens

goldens-platform: $(SETUP)  ## record this machine's exact copy of the goldens (refused beyond float rounding of them)
	$(PY) -m attrec_lib.report.goldens --platform

site: $(SETUP)  ## the study as static HTML in build/site/ (from the committed notebooks)
	$(PY) -m attrec_lib.report.site build

site-test: $(SETUP)  ## open every page of build/site/ in headless Chromium and check it (needs chromium, .[site])
	$(PY) -m attrec_lib.report.site check

# No `setup` here: the GPU machine has python3 with torch but no network to install from.
gpu-check:  ## <= 5 min bench on a CUDA card (dry run without CUDA); ML-100K from ATTREC_DATA_MIRROR or ./shared-data
	ATTREC_DATA_MIRROR=$${ATTREC_DATA_MIRROR:-shared-data} PYTHONPATH=. $(PYTHON) -m attrec_lib.bench.gpu_check

gpu-study:  ## <= 10 min: Table 2's learned ML-100K runs on the GPU, several to a card; runs/min, full-profile projection, differences from the CPU runs (dry run without CUDA)
	ATTREC_DATA_MIRROR=$${ATTREC_DATA_MIRROR:-shared-data} PYTHONPATH=. $(PYTHON) -m attrec_lib.bench.gpu_study

clean-data:  ## remove the processed data cache (raw files are kept)
	rm -rf data/processed
