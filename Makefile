# asyncio-perf-lab: the front door. Every target bootstraps .venv from nothing but python3 >= 3.11,
# with the checkout installed editable (edits take effect at once) and the `asyncio-lab` command.
.DEFAULT_GOAL := help
.PHONY: help bench bench-quick bench-server bench-overhead bench-gate bench-matrix trend report compare ab trace serve test test-all lint format readme-chart clean

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
LAB    := $(VENV)/bin/asyncio-lab
STAMP  := $(VENV)/.installed-stamp
ARGS   ?=

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
		|| { echo "error: $(PYTHON) is $$($(PYTHON) -V 2>&1); the lab needs Python >= 3.11 (set PYTHON=...)"; exit 2; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[uvloop,dev]'
	@touch $(STAMP)

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

bench: $(STAMP) ## run every scenario (default profile), write results/<run-id>/ and the HTML report
	$(LAB) run --profile default $(ARGS)

bench-quick: $(STAMP) ## the same in seconds per scenario (what CI runs)
	$(LAB) run --profile quick $(ARGS)

bench-server: $(STAMP) ## requests/s of the mock server vs a bare aiohttp handler, interleaved
	$(LAB) selfbench server $(ARGS)

bench-overhead: $(STAMP) ## what measuring costs: the lab vs a bare perf_counter loop, and the probes
	$(LAB) selfbench lab-overhead
	$(LAB) selfbench probe-overhead

bench-gate: $(STAMP) ## false-alarm rate and power of the regression gate on this machine
	$(LAB) selfbench gate $(ARGS)

bench-matrix: $(STAMP) ## quick profile under every Python (3.11-3.13) and loop found, merged in one report
	$(LAB) matrix $(ARGS)

trend: $(STAMP) ## chart every variant's median across the runs kept in results/ (history, never a gate)
	$(LAB) trend results $(ARGS)

report: $(STAMP) ## rebuild the HTML report of the newest run (RESULTS=path/to/results.json to choose)
	$(LAB) report $(or $(RESULTS),results/latest/results.json)

compare: $(STAMP) ## compare two results files: make compare BASE=a.json HEAD=b.json
	$(LAB) compare $(BASE) $(HEAD) $(ARGS)

ab: $(STAMP) ## A/B the working tree against a base revision in one job: make ab BASE=origin/main
	$(LAB) ab --base $(or $(BASE),origin/main) $(ARGS)

trace: $(STAMP) ## Chrome trace of one variant: make trace WHAT=sequential_vs_gather:gather
	$(LAB) trace $(WHAT) $(ARGS)

serve: $(STAMP) ## run the mock API in the foreground (Ctrl-C stops it)
	$(LAB) serve --port $(or $(PORT),8080) $(ARGS)

test: $(STAMP) ## unit, integration and browser tests, without the slow set (ARGS="-m slow": only it)
	$(PY) -m pytest $(ARGS)

test-all: $(STAMP) ## every test, the slow set too (its deeper and statistical checks: gate trials, every variant)
	$(PY) -m pytest -m "slow or not slow" $(ARGS)

lint: $(STAMP) ## ruff check and format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP) ## apply ruff fixes and formatting
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

readme-chart: $(STAMP) ## regenerate docs/readme-chart.svg from a fresh default-profile run
	$(LAB) run sequential_vs_gather --profile default --no-report --out results/readme
	$(LAB) readme-chart results/readme/latest/results.json --out docs/readme-chart.svg

clean: ## remove .venv, results and caches
	rm -rf $(VENV) results .pytest_cache .ruff_cache .benchmarks
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
