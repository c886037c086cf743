# CrossBlock — `make demo` runs the story end to end, `make test` runs every test.
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip
STAMP_PY := .venv/.stamp
STAMP_NPM := node_modules/.stamp
SOLC := $(CURDIR)/tools/solc-wrapper.cjs
FORGE := node_modules/.bin/forge

.PHONY: setup postgres-tools bench-tools test test-forge test-py demo demo-down bench lint fmt artifacts gas-snapshot clean

setup: $(STAMP_PY) $(STAMP_NPM)

$(STAMP_PY): pyproject.toml requirements.lock
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c requirements.lock -e '.[dev]'
	touch $@

# `npm install` keeps to package-lock.json (it is not rewritten); `npm ci` refuses a lock file without the
# other platforms' optional anvil/forge/cast packages, which the registries reachable here do not serve.
$(STAMP_NPM): package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	if git rev-parse --git-dir >/dev/null 2>&1 && ! git diff --quiet -- package-lock.json; then \
	  echo "npm changed package-lock.json: review and commit it"; exit 1; fi
	touch $@

test: setup
	$(MAKE) test-forge
	$(MAKE) test-py

test-forge: setup
	cd contracts && ../$(FORGE) test --use $(SOLC) --offline

# PostgreSQL server binaries for the tests (Debian package, installed when missing and root).
postgres-tools:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	else echo "postgres-tools: no initdb; install the postgresql package (as root)" >&2; fi

test-py: setup postgres-tools
	CROSSBLOCK_REQUIRE_POSTGRES=1 $(PY) -m pytest -q

lint: setup
	.venv/bin/ruff check ledger_node gateway tests bench
	.venv/bin/mypy

fmt: setup
	.venv/bin/ruff format ledger_node gateway tests bench
	.venv/bin/ruff check --fix ledger_node gateway tests bench

artifacts: setup
	$(PY) -m ledger_node.compile --write

gas-snapshot: setup
	cd contracts && ../$(FORGE) snapshot --use $(SOLC) --offline --no-match-contract VectorsTest

demo: setup
	.venv/bin/crossblock demo

demo-down: setup
	.venv/bin/crossblock demo --down

# wrk, the HTTP load generator of bench/http.py (Debian package, installed when missing and root).
bench-tools:
	@command -v wrk >/dev/null || if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	else echo "bench-tools: no wrk; install the wrk package (as root)" >&2; fi

bench: setup bench-tools
	$(PY) -m bench.run

clean:
	rm -rf contracts/out contracts/cache .pytest_cache .mypy_cache .ruff_cache
