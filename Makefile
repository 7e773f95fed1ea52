# Rongtong — the two front-door commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck imports unit integration e2e bench stack-up stack-down clean system-deps

$(STAMP): pyproject.toml setup.py $(wildcard bus/_speedups*.[ch])
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Tools the bus needs from the operating system: a JDK and Maven run Kafka; Debian's
# docker-compose validates docker-compose.yml. Installed only when missing.
system-deps:
	@bash scripts/ensure-system-deps.sh

demo: $(STAMP) system-deps
	$(BIN)/bus demo run

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

# pytest exits 5 when it collects no tests; that is not a failure of the suite.
define pytest
	$(BIN)/pytest $(1); rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc
endef

unit: $(STAMP)
	@$(call pytest,tests/unit tests/architecture -q)

integration: $(STAMP) system-deps
	@$(call pytest,tests/integration -q)

e2e: $(STAMP) system-deps
	@$(call pytest,tests/e2e -q)

test: $(STAMP) system-deps lint typecheck imports
	@$(call pytest,tests -q -ra --durations=25)

bench: $(STAMP)
	$(BIN)/python bench/capture_throughput.py

stack-up: $(STAMP)
	$(BIN)/bus stack up

stack-down: $(STAMP)
	$(BIN)/bus stack down

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
