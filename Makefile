# Two commands do everything on a fresh machine (Python 3.11 and make):
#   make demo   the instructor pipeline on the bundled examples: verify, release, grade, report
#   make test   the whole test suite
# Each creates .venv and installs the pinned requirements when missing, and nothing more when present.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup demo test verify release check-stubs clean bench

$(STAMP): requirements.txt requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -c requirements.lock
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(PY) -m autograder demo --out out/demo

test: setup
	$(PY) -m pytest -q

verify: setup
	$(PY) -m autograder verify

release: setup
	$(PY) -m autograder release out/release

bench: setup
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf out .cache
