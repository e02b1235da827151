# The two README commands. Both create .venv on a fresh machine and install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEV_STAMP := $(VENV)/.stamp-dev
RUN_STAMP := $(VENV)/.stamp-run
DEMO_OUT ?= demo_output

.PHONY: test demo lint typecheck pytest docs notebooks benchmarks clean help

help:
	@echo "make demo   - train a small GANimation on synthetic faces and write an animation ($(DEMO_OUT)/)"
	@echo "make test   - ruff, mypy --strict, pytest (unit, integration, doctests, notebooks), strict docs build"
	@echo "make notebooks - execute examples/*.ipynb in place and save them with their outputs (about 2 minutes)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install only when the project's metadata changes.
$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,docs]'
	touch $@ $(RUN_STAMP)

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests examples $(wildcard benchmarks)
	$(BIN)/ruff format --check src tests examples $(wildcard benchmarks)

typecheck: $(DEV_STAMP)
	$(BIN)/mypy --strict src

# The suite includes tests of a trained model (tests/inference/test_trained.py): the demo's generator.
# It is trained once (1,300 iterations, about 2.5 minutes on 2 cores) and reused until demo_output/ is removed.
DEMO_MODEL := $(DEMO_OUT)/generator/model.safetensors

$(DEMO_MODEL): | $(RUN_STAMP)
	$(BIN)/ganimation demo --output $(DEMO_OUT)

pytest: $(DEV_STAMP) $(DEMO_MODEL)
	$(BIN)/python -m pytest

docs: $(DEV_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

test: lint typecheck pytest docs

demo: $(RUN_STAMP)
	$(BIN)/ganimation demo --output $(DEMO_OUT)

# Executes every notebook in examples/ and saves it with its outputs (seeded; timings stripped), to be committed.
notebooks: $(DEV_STAMP)
	$(BIN)/python examples/run_notebooks.py

benchmarks: $(DEV_STAMP)
	@for f in benchmarks/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf site build dist .pytest_cache .mypy_cache .ruff_cache
