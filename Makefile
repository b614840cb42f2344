# The two commands: `make run` (the main job) and `make test` (the tests).
# Each first runs the idempotent set-up step.
VENV ?= .venv
PRESET ?= quickstart
OUT ?= runs/$(PRESET)
PYTEST_ARGS ?=
# Test processes (pytest-xdist); whole files go to one process, so a module's fixture runs once.
TEST_WORKERS ?= 2

.PHONY: setup run test format lint tensorboard

setup:
	@scripts/setup_env.sh

run: setup
	$(VENV)/bin/headsynth run --preset $(PRESET) --out $(OUT)

test: setup
	$(VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

format: setup
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

# Formatting, then the architecture: the layers contract (pyproject.toml) and no import cycles.
lint: setup
	$(VENV)/bin/ruff format --check . && $(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python scripts/import_cycles.py

tensorboard: setup
	$(VENV)/bin/tensorboard --logdir $(OUT)
