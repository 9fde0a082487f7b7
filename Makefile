# The two commands of the README: `make demo` and `make test`. Each creates .venv
# with the extras it needs when .venv is missing or older than pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_EXTRAS := bridge,broker,report
TEST_EXTRAS := bridge,broker,report,sensors,trainer,dev

# the public Python API (README.md, "Python API"): `make docs` writes its reference
API_MODULES := otswarm.ot otswarm.summaries otswarm.link otswarm.coordination otswarm.policy \
	otswarm.energy otswarm.agent.config otswarm.firmware_bridge otswarm.errors
# the reference firmware runs on the MCU (its main.py imports from the MCU's file tree)
API_EXCLUDE := '!otswarm.firmware_bridge.firmware'
API_DOCS := build/api
PDOC_FLAGS := --docformat restructuredtext
BOARD ?= rpi5
TEST_WORKERS ?= 4

.PHONY: demo test bench lint format docs arm64-smoke venv clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[$(DEMO_EXTRAS)]'
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[$(TEST_EXTRAS)]'
	touch $@ $(VENV)/.demo-installed

venv: $(VENV)/.test-installed

demo: $(VENV)/.demo-installed
	$(BIN)/otswarm demo $(ARGS)

# the suite on one worker per core, at most TEST_WORKERS (a cold run is mostly Numba
# compiling, one core each: 10 minutes on 2 cores instead of 16); PYTEST_ARGS='-n 0 ...'
# runs it in this process
test: $(VENV)/.test-installed
	$(BIN)/python -m pytest -n auto --maxprocesses=$(TEST_WORKERS) $(PYTEST_ARGS)

bench: $(VENV)/.test-installed
	$(BIN)/python -m bench $(ARGS)

# an HTML API reference from the docstrings (pdoc) in $(API_DOCS)/ (git-ignored)
docs: $(VENV)/.test-installed
	$(BIN)/pdoc $(PDOC_FLAGS) --output-directory $(API_DOCS) $(API_MODULES) $(API_EXCLUDE)
	@echo "API reference: $(API_DOCS)/index.html"

# not part of `make test`: the wheel on an emulated Raspberry Pi (needs root; tens of
# minutes; docs/deploy.md). BOARD=rpi4 for a Pi 4.
arm64-smoke: $(VENV)/.test-installed
	BOARD=$(BOARD) PYTHON=$(abspath $(BIN)/python) tests/arm64/smoke.sh

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.test-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build *.egg-info
