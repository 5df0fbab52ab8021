# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
RUN := $(UV) run --frozen --no-sync

export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Installed packages get their bytecode at install time: with PYTHONDONTWRITEBYTECODE set (as
# on some machines) every `zhida` command would otherwise recompile polars' and numpy's Python
# layers on start (polars import: 0.5 s -> 0.2 s).
export UV_COMPILE_BYTECODE := 1

.PHONY: demo test test-fast lint typecheck pytest pytest-fast bench install install-dev clean browsers

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

install: $(UV)
	$(UV) sync --frozen --no-dev --inexact --python $(PYTHON)

install-dev: $(UV)
	$(UV) sync --frozen --python $(PYTHON)

demo: install
	$(RUN) zhida demo

# lint-imports: the layering of DESIGN.md ([tool.importlinter] in pyproject.toml); zhida db check:
# the migrations make exactly the tables the code declares.
lint: install-dev
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports
	$(RUN) zhida db check

typecheck: install-dev
	$(RUN) mypy

# The suite runs on PYTEST_WORKERS pytest-xdist workers (auto: one per core), each with a
# PostgreSQL database and a Redis db of its own (tests/conftest.py), and lists the 20 slowest
# tests at the end. PYTEST_WORKERS=0 runs it in one process; PYTEST_ARGS adds options.
# Bytecode is written even where PYTHONDONTWRITEBYTECODE is set: otherwise every worker and
# every command a test starts compiles the project's and the tests' modules again (collection
# took 9.6 s of CPU instead of 5.6 s).
PYTEST_WORKERS ?= auto
PYTEST := PYTHONDONTWRITEBYTECODE= $(RUN) pytest -n $(PYTEST_WORKERS) --durations=20 $(PYTEST_ARGS)

pytest: install-dev browsers
	$(PYTEST)

# The same without the tests marked slow (the fault test, worker processes, model training, ...).
pytest-fast: install-dev browsers
	$(PYTEST) -m "not slow"

# The console's browser tests drive Debian's chromium through Playwright; Playwright's own browser
# downloads are never used (`playwright install` needs hosts outside the package registries).
# A CJK font makes the screenshots of failed tests readable.
CHROMIUM := /usr/bin/chromium
BROWSER_PACKAGES := chromium fonts-wqy-microhei
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browsers:
	@test -x $(CHROMIUM) && dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || { \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES); }
	@test -x $(CHROMIUM) || { echo "make: $(CHROMIUM) is still missing; install Debian's chromium package" >&2; exit 1; }

test: lint typecheck pytest

test-fast: lint typecheck pytest-fast

bench: install-dev
	$(RUN) python -m bench

clean:
	rm -rf $(VENV) $(TOOLS) .zhida .pytest_cache .mypy_cache .ruff_cache

# The fault test (a campaign of 10,000 SMS, e-mails and webhooks through a SIGKILLed worker, a
# flushed Redis, failing gateways and lost answers: each delivered exactly once) FAULT_RUNS times
# in a row on a machine kept busy by FAULT_HOGS CPU hogs (`yes > /dev/null`), which are killed at
# the end whatever happens. It needs PostgreSQL and Redis, as `make test` does.
FAULT_RUNS ?= 3
FAULT_HOGS ?= 4
.PHONY: fault
fault: install-dev
	@hogs=""; trap 'kill $$hogs 2>/dev/null' EXIT INT TERM; \
	for i in $$(seq $(FAULT_HOGS)); do yes > /dev/null & hogs="$$hogs $$!"; done; \
	for run in $$(seq $(FAULT_RUNS)); do \
	    echo "make fault: run $$run of $(FAULT_RUNS), $(FAULT_HOGS) CPU hogs running" >&2; \
	    CI=true $(RUN) pytest tests/notifier/test_fault.py -n 0 -p no:cacheprovider -q -s \
	        || exit 1; \
	done; \
	echo "make fault: $(FAULT_RUNS) runs in a row passed under $(FAULT_HOGS) CPU hogs" >&2
