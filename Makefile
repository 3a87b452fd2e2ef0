# plumescout — two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= demo-output

.PHONY: demo test test-pmf lint validate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/plumescout demo --out $(OUT)

# the suite in parallel (pytest-xdist), a file per worker at a time: a file's fixtures are built once
TEST_WORKERS ?= auto
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# source apportionment with the EPA's esat, which pins its own numpy/numba/scipy: its own venv
PMF_VENV ?= .venv-pmf
$(PMF_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(PMF_VENV)
	$(PMF_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PMF_VENV)/bin/python -m pip install --quiet -e '.[pmf]' pytest hypothesis
	touch $@

test-pmf: $(PMF_VENV)/.installed
	PLUMESCOUT_TEST_PMF=1 $(PMF_VENV)/bin/python -m pytest -q -m pmf

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks

validate: $(VENV)/.installed
	$(BIN)/plumescout validate prairie-grass ../shared/datasets/prairie-grass-1956 --json

clean:
	rm -rf $(VENV) $(PMF_VENV) $(OUT) .pytest_cache build src/*.egg-info
