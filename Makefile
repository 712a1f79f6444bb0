# NovaOS — `make run` and `make test` work on a fresh Linux machine with Python 3.11+.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint generate check-generated bench shield-model output-model clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	@command -v openssl >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null; } # dev TLS pair
	$(BIN)/python scripts/run_dev.py

test: $(STAMP)
	bash scripts/system_deps.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

generate: $(STAMP)
	PY=$(BIN)/python scripts/generate.sh generated

check-generated: $(STAMP)
	@tmp=$$(mktemp -d) && PY=$(BIN)/python scripts/generate.sh $$tmp/generated >/dev/null && \
	  diff -r --exclude=__pycache__ generated $$tmp/generated >/dev/null || \
	  { echo "generated/ is stale: run 'make generate'"; rm -rf $$tmp; exit 1; }; rm -rf $$tmp

lint: $(STAMP) check-generated
	$(BIN)/ruff check novaos tests bench scripts server.py
	$(BIN)/ruff format --check novaos tests bench scripts server.py
	$(BIN)/mypy novaos
	$(BIN)/buf lint
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench $(if $(QUICK),--quick,)

# Refit the shield's learned second opinion after editing its training data
# (tests/data/shield_labelled.jsonl, tests/data/shield_train/): a few minutes.
shield-model: $(STAMP)
	$(BIN)/python scripts/train_shield_model.py

# Refit the output check's self-harm model after editing its training data
# (tests/data/shield_outputs_self_harm.jsonl, tests/data/shield_outputs_train/)
# or the shield model (it reads text as the shield normalises it): under a minute.
output-model: $(STAMP)
	$(BIN)/python scripts/train_output_model.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
