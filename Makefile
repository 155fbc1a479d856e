# Infusion Outcomes. `make run` and `make test` set everything up on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501
CHROMIUM ?= /usr/bin/chromium
PYTEST_ARGS ?=

.PHONY: run test lint format bench browser clean demo-data screenshots

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

## run: start the dashboard on the built-in synthetic demo data
run: $(VENV)/.runtime
	$(PY) -m ui.serve app.py --server.port $(PORT) --server.headless true \
		--browser.gatherUsageStats false

## browser: Debian's Chromium for the real-browser tests (Playwright drives it by path)
browser:
	@test -x $(CHROMIUM) && command -v pdftotext >/dev/null || { \
		echo "Installing Debian's chromium and poppler-utils for the browser and PDF tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils; }

lint: $(VENV)/.dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(VENV)/.dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

## test: lint, then every test (unit, AppTest pages, real-browser journeys)
test: $(VENV)/.dev browser lint
	CHROMIUM_PATH=$(CHROMIUM) $(PY) -m pytest -n 2 $(PYTEST_ARGS)

## bench: performance against reference engines (see docs/performance.md)
bench: $(VENV)/.dev
	$(PY) -m bench

demo-data: $(VENV)/.runtime
	$(PY) -m sample_data.generate_demo --out sample_data/demo_cohort.csv

screenshots: $(VENV)/.dev browser
	CHROMIUM_PATH=$(CHROMIUM) $(PY) scripts/screenshots.py --out docs/screenshots / 

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
