# pdee: `make help` lists the targets. Every target sets up what it needs.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
IMAGE ?= pdee-ee:latest

.PHONY: help venv image browser demo test test-fast docs bench lint clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/pdee: pyproject.toml
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || (apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

venv: $(BIN)/pdee ## Create .venv with pdee and the dev tools

image: venv ## Build the EE image (offline: bootstraps a Debian base if python:3.12-slim is absent)
	$(BIN)/pdee image build --tag $(IMAGE) $(if $(BASE_IMAGE),--base $(BASE_IMAGE))

browser: ## Install Debian's headless Chromium and its driver, if absent (the HTML report's browser tests)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		echo "installing Debian's chromium and chromium-driver"; apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

demo: image ## Run the write/read/list/delete example workflow for 20 events in realistic EEs
	$(BIN)/pdee run examples/write_file.py examples/read_file.py examples/list_files.py \
		examples/delete_file.py --events 20 --seed 1 --report demo-report.json

test: image browser ## Run every test: unit, and integration against the real daemon and image
	$(BIN)/pytest

test-fast: venv browser ## Run the tests that need no Docker
	$(BIN)/pytest tests/unit

docs: venv ## Build the documentation site from docs/ into site/ (warnings are errors)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: image ## Measure warm and cold executions against docker exec / docker run baselines
	$(BIN)/python bench/bench.py

lint: venv ## ruff and mypy --strict
	$(BIN)/ruff check harness tests bench examples
	$(BIN)/ruff format --check harness tests bench
	$(BIN)/mypy

clean: ## Remove EEs that dead pdee runs left behind, and the venv (the wheel cache stays)
	-$(BIN)/pdee gc
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo-report.json site
