# obstack: the two commands of the README, and the helpers they rest on.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= build
STAMP := $(VENV)/.installed
EXAMPLE := examples/bookmark-api
EXAMPLE_STAMP := $(EXAMPLE)/node_modules/.installed
SCHEMA_TYPES := tests/grafana-schema
SCHEMA_TYPES_STAMP := $(SCHEMA_TYPES)/node_modules/.installed

.PHONY: run test test-fast system-deps install example grafana-schema golden docs bench plots clean

## run: set up, generate and validate the embedded bookmark-api spec into ./build
run: system-deps $(STAMP)
	$(BIN)/obstack generate --out $(OUT)
	$(BIN)/obstack validate --out $(OUT)
	@echo
	@echo "Generated tree: $(OUT)/  (start with $(OUT)/docs/stack.md and $(OUT)/prometheus/prometheus.yml)"

## test: set up (Python packages, Debian tools, the npm packages of the reference app and of the dashboard type check) and run the whole suite
test: system-deps $(STAMP) $(EXAMPLE_STAMP) $(SCHEMA_TYPES_STAMP)
	$(BIN)/python -m pytest

## test-fast: the suite without the slow and end-to-end tests (docs/development.md, "Tests")
test-fast: system-deps $(STAMP) $(EXAMPLE_STAMP) $(SCHEMA_TYPES_STAMP)
	$(BIN)/python -m pytest -m "not slow and not e2e"

system-deps:
	@bash scripts/install-system-deps.sh

install: $(STAMP)

## example: the reference bookmark API's npm packages (express, prom-client, pg, ioredis, bullmq, pm2)
example: $(EXAMPLE_STAMP)

$(EXAMPLE_STAMP): $(EXAMPLE)/package-lock.json
	cd $(EXAMPLE) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## grafana-schema: Grafana's published dashboard types (@grafana/schema) and tsc, for the dashboard type check
grafana-schema: $(SCHEMA_TYPES_STAMP)

$(SCHEMA_TYPES_STAMP): $(SCHEMA_TYPES)/package-lock.json
	cd $(SCHEMA_TYPES) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

## golden: refresh tests/golden/ from the embedded spec (review the diff)
golden: $(STAMP)
	$(BIN)/obstack generate --out tests/golden

## bench: run every benchmark (results in bench/results/), then redraw the plots in docs/img/
bench: $(STAMP)
	@bash scripts/install-system-deps.sh bench
	$(BIN)/python bench/generation.py
	$(BIN)/python bench/scrape_latency.py
	$(BIN)/python bench/scrape_concurrency.py
	$(BIN)/python bench/queue_probe.py
	$(BIN)/python bench/rule_eval.py
	$(BIN)/python bench/rule_eval.py --services 1000
	$(BIN)/python bench/detection.py
	$(BIN)/python bench/validate.py
	$(BIN)/python bench/mutation.py
	$(BIN)/python bench/plot.py

## plots: redraw docs/img/bench-*.png from bench/results/*.json
plots: $(STAMP)
	$(BIN)/python bench/plot.py

## docs: refresh docs/spec-reference.md from the spec model and the holds and windows in docs/alerting.md
docs: $(STAMP)
	$(BIN)/python -m obstack.stack.spec.reference > docs/spec-reference.md
	$(BIN)/python -m obstack.alerts.timing_doc docs/alerting.md

clean:
	rm -rf $(OUT) $(VENV) .pytest_cache $(EXAMPLE)/node_modules $(SCHEMA_TYPES)/node_modules
