# The README's two commands: `make run` (set up, then Table 1 and the figures on the generated
# pendulum) and `make test` (set up, then the test suite). CORES and CONFIG can be overridden.
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2
CONFIG ?= workflow/config/config.yaml
TARGET ?= pendulum

.PHONY: setup run test lint reliability lock

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev,cluster]' -c requirements.lock
	touch $@

run: setup
	$(BIN)/snakemake --cores $(CORES) $(TARGET) --configfile $(CONFIG)

# Two workers, a module's tests on one worker in file order (the workflow tests build on one smoke folder).
test: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

lint: setup
	$(BIN)/ruff check vhp_core baselines tests benchmarks
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow/rules

reliability: setup
	$(BIN)/python -m pytest tests -q -m fault --reliability-doc docs/reliability.md

lock: setup
	{ sed -n '1,3p' requirements.lock; $(BIN)/python -m pip freeze --exclude-editable | grep -vi '^torch=='; } > requirements.lock.new
	mv requirements.lock.new requirements.lock
