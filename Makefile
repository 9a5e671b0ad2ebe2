# make demo: bake the default project and train it.   make test: every test of the template.
PYTHON ?= python3.11
VENV ?= .venv
DEV_REQUIREMENTS ?= requirements-dev.txt
# e.g. https://download.pytorch.org/whl/cpu on a machine without a local CPU wheel.
TORCH_INDEX ?=
BIN := $(VENV)/bin
DEMO := build/demo

.PHONY: demo test lint clean

$(BIN)/.installed: $(DEV_REQUIREMENTS) constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned: a dependency asking for plain `torch` would otherwise pull CUDA.
	$(BIN)/python -m pip install -q -c constraints.txt $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -r $(DEV_REQUIREMENTS)
	touch $@

demo: $(BIN)/.installed
	rm -rf $(DEMO)
	$(BIN)/cookiecutter . --no-input --output-dir $(DEMO)
	$(BIN)/python -m pip install -q -c constraints.txt --no-build-isolation -e $(DEMO)/my_project
	cd $(DEMO)/my_project && $(abspath $(BIN))/python train.py

test: $(BIN)/.installed
	$(BIN)/python -m pytest tests

lint: $(BIN)/.installed
	$(BIN)/ruff check hooks tests
	$(BIN)/ruff format --check hooks tests

clean:
	rm -rf $(VENV) build
