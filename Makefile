# The two commands of the README work on a fresh machine: each makes its own virtualenv.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: serve test check bench compat fuzz

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(VENV)/bin/taskloom serve

test: $(STAMP)
	scripts/test

check: $(STAMP)
	scripts/check

# schemathesis against /openapi.json of a real `taskloom serve`: fails on any 5xx or reply
# the schema does not document
fuzz: $(STAMP)
	scripts/fuzz

# the official xpander-sdk (own virtualenv, cached) against a real `taskloom serve`
compat: $(STAMP)
	compat/run

bench: $(STAMP)
	$(VENV)/bin/python bench/run.py --backend both
