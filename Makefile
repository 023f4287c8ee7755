# The two commands of the README:  make benchmark  and  make test.
# Both create the virtual environment in .venv first if it is missing.
PYTHON ?= python3
VENV ?= .venv
CORES ?= 2
TARGET ?= results/table1.csv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)

.PHONY: benchmark test lint env

env: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,deep]'
	touch $@

benchmark: env
	snakemake --cores $(CORES) $(TARGET)

test: env
	python -m pytest

lint: env
	snakemake --lint
