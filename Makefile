# The two commands of the README:  make benchmark  and  make test.
# Each run first checks its config files (hashbench check-config): a YAML or schema error is one line
# naming the file, line and field, before Snakemake reads them.
# Both create the virtual environment in .venv first if it is missing.
PYTHON ?= python3
VENV ?= .venv
CORES ?= 2
TARGET ?= all figures page
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)

.PHONY: benchmark smoke quick later tune example test test-isa rehearsal lint env

env: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,deep]'
	touch $@

# Everything the README lists: tables, claims, reproduction report, figures, the results page
# (results/index.html), then Snakemake's HTML report.
benchmark: env
	hashbench check-config config/config.yaml
	snakemake --cores $(CORES) $(TARGET)
	snakemake report --report results/report.html

# The whole output in about a minute (config/smoke.yaml): scikit-learn's digits, three shallow methods
# and HashNet, one seed; results/smoke/ (tables, claims, index.html, report.html) and figures/smoke/.
smoke: env
	hashbench check-config config/smoke.yaml
	snakemake --cores $(CORES) all figures page --configfile config/smoke.yaml
	snakemake report --report results/smoke/report.html --configfile config/smoke.yaml

# One seed of mnist5k (config/quick.yaml): results/quick/table1.csv in a few minutes, for iteration;
# its runs are the default benchmark's seed-0 runs.
quick: env
	hashbench check-config config/quick.yaml
	snakemake --cores $(CORES) --configfile config/quick.yaml

# Four methods published after HashNet with it and the classifier floor (config/later.yaml):
# results/later/table1.md, claims.md and figures/later/; HashNet's runs are the benchmark's.
later: env
	hashbench check-config config/later.yaml
	snakemake --cores $(CORES) all figures --configfile config/later.yaml

# Each deep method's learning rate chosen on validation per embedded protocol (config/tune.yaml), from
# nothing: results/tune/tuning.json, copied to hashbench/reference/tuning.json (the default benchmark's).
tune: env
	hashbench check-config config/tune.yaml
	snakemake --cores $(CORES) results/tune/tuning.json --configfile config/tune.yaml
	cp results/tune/tuning.json hashbench/reference/tuning.json

# Test files spread over $(CORES) processes (pytest-xdist); each file's tests stay in one.
test: env
	python -m pytest -n $(CORES) --dist loadfile

# The plugin tutorial's package (examples/hashbench-dpsh) installed into this environment, then its
# tests: the conformance check, DPSH's loss and bank, and a tiny workflow with it, killed and resumed.
example: env
	python -m pip install --quiet -e examples/hashbench-dpsh
	python -m pytest -q examples/hashbench-dpsh/tests

# The unit tests (every test that trains) again on other oneDNN kernels: results differ in the
# last bits between instruction sets, so the training tests must hold on each (docs/metrics.md: Reproducibility).
ISAS ?= SSE41 AVX2
# the unit tests that train or run a network (the others compute nothing oneDNN touches); in one
# process (two take longer: each loads torch and they share the two cores)
DEEP_TESTS ?= $(addprefix tests/unit/test_,deep.py later_methods.py methods.py identities.py augment.py images.py \
                reproducibility.py selection.py registry.py)
# Less the tests that kill a run and compare its resumed codes with an uninterrupted run's on the same
# machine: whatever the kernels, both runs use the same, so make test's pass covers them.
ISA_SKIP ?= not killed and not interrupted and not gpu_check
test-isa: env
	@for isa in $(ISAS); do echo "== DNNL_MAX_CPU_ISA=$$isa"; \
	  DNNL_MAX_CPU_ISA=$$isa python -m pytest -q $(DEEP_TESTS) -k "$(ISA_SKIP)" || exit 1; done

# The paper's GPU path rehearsed on this CPU: JPEG files in the released list format, AlexNet from a
# weights file, image cache, fc7 features, selection, all 14 methods, Tables 1 and 2, and the dry runs
# that must have nothing (or only the deep training) to do (tests/workflow/test_rehearsal.py).
rehearsal: env
	python -m pytest -q -s -m rehearsal tests/workflow/test_rehearsal.py

lint: env
	snakemake --lint
