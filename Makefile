# cliniko-connector: the two set-up commands are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PY312 := $(shell scripts/find-python312.sh)
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools
SAM := $(TOOLS)/sam/bin/sam
CFNLINT := $(TOOLS)/sam/bin/cfn-lint
CHECKOV := $(TOOLS)/checkov/bin/checkov
UV := $(TOOLS)/uv/bin/uv
LAYER := layers/cliniko_connector
# `make lock LOCK_ARGS=--upgrade` moves every pin to the newest release the specifiers allow.
LOCK_ARGS ?=
PYTEST_WORKERS ?= 2

.PHONY: help venv test lint typecheck unit integration e2e demo bench template lock check-template sam-build clean browser

help:
	@echo "make demo            run the whole pipeline locally (moto server + Cliniko simulator)"
	@echo "make test            lint, type-check and run the whole test suite (installs Chromium if missing)"
	@echo "make browser         install Debian's Chromium and ChromeDriver for the console's browser tests"
	@echo "make bench           benchmarks against the simulator and moto server (.bench/results.json)"
	@echo "make template        regenerate template.yaml, stacks/, events/ and docs from the catalog"
	@echo "make lock            re-lock the layer's runtime dependencies (requirements.in -> hashed requirements.txt)"
	@echo "make check-template  sam validate --lint, cfn-lint and checkov on template.yaml and stacks/ (cfn-lint on the automations stack)"
	@echo "make sam-build       sam build (Lambda runtime python3.12)"

$(BIN)/activate: pyproject.toml
	test -n "$(PY312)"
	$(PY312) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(BIN)/activate

venv: $(BIN)/activate

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	# Every function's handler is `app.py`: type-check them one at a time so their module names don't clash.
	for f in functions/*/app.py; do $(BIN)/mypy --no-error-summary "$$f" || exit 1; done

typecheck: venv
	$(BIN)/mypy

# The console's browser tests drive Debian's Chromium: installed here when missing (needs root or sudo).
browser:
	scripts/ensure-chromium.sh

test: venv lint browser
	$(BIN)/pytest -n $(PYTEST_WORKERS) -q

unit: venv
	$(BIN)/pytest -q tests/unit

test-slow: venv
	$(BIN)/pytest -q -m slow

demo: venv
	$(BIN)/python scripts/demo.py

bench: venv
	$(BIN)/python -m bench

template: venv
	$(BIN)/cliniko-connector dev render
	$(BIN)/python -m cliniko_tools.devtools.actions_doc
	$(BIN)/python -m cliniko_tools.devtools.coverage

$(UV):
	test -n "$(PY312)"
	$(PY312) -m venv $(TOOLS)/uv
	$(TOOLS)/uv/bin/pip install -q uv

# The layer's lock, for the functions' platform (arm64, python3.12): `sam build` installs it with pip, which checks
# every wheel against its hashes.
lock: $(UV)
	cd $(LAYER) && $(CURDIR)/$(UV) pip compile requirements.in --quiet --generate-hashes --python-version 3.12 \
		--python-platform aarch64-manylinux2014 --custom-compile-command "make lock" $(LOCK_ARGS) \
		--no-emit-package charset-normalizer -o requirements.txt

$(SAM):
	test -n "$(PY312)"
	$(PY312) -m venv $(TOOLS)/sam
	$(TOOLS)/sam/bin/pip install -q aws-sam-cli cfn-lint

$(CHECKOV):
	test -n "$(PY312)"
	$(PY312) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/pip install -q checkov

# The root template and the nested stacks it deploys (one per resource family, generated under stacks/).
TEMPLATES := template.yaml $(sort $(wildcard stacks/*.yaml))

check-template: $(SAM) $(CHECKOV) venv
	for t in $(TEMPLATES); do AWS_DEFAULT_REGION=us-east-1 $(SAM) validate --lint --template $$t || exit 1; done
	$(CFNLINT) $(TEMPLATES)
	# The automations stack's template, as `automations deploy` builds it from the recipes.
	mkdir -p .aws-sam && $(BIN)/python -m cliniko_tools.automation_stack.example > .aws-sam/automations-recipes.json
	$(CFNLINT) .aws-sam/automations-recipes.json
	$(CHECKOV) $(addprefix -f ,$(TEMPLATES)) --framework cloudformation --quiet --compact --skip-download

sam-build: $(SAM) venv
	PATH="$(CURDIR)/$(BIN):$$PATH" $(SAM) build --template template.yaml

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .bench
