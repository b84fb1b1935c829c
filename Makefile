# Slotcast: `make run` serves the demo on http://127.0.0.1:8000; `make test` sets up and runs every test.
SHELL := /bin/bash
# The newest Python >= 3.11 found (pyenv's versions included).
PYTHON ?= $(shell for p in python3.14 python3.13 $(HOME)/.pyenv/versions/3.14*/bin/python3 \
	$(HOME)/.pyenv/versions/3.13*/bin/python3 python3.12 python3; do \
	$$p -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
CATALOGS := $(patsubst %.po,%.mo,$(wildcard translations/*/LC_MESSAGES/messages.po))
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup run test faults bench-postgres browser axe postgres bench messages clean

setup: $(VENV)/ready $(CATALOGS)

$(VENV)/ready: requirements.txt
	@test -n "$(PYTHON)" || { echo "No Python 3.11+ found"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po $(VENV)/ready
	$(VENV)/bin/pybabel compile --use-fuzzy -i $< -o $@ -l $*

run: setup
	SLOTCAST_DEMO=1 SLOTCAST_ADMIN_PASSWORD="$${SLOTCAST_ADMIN_PASSWORD:-slotcast}" $(PY) app.py

# Chromium from Debian's packages, for the real-browser tests (never a browser download).
browser:
	@command -v chromium >/dev/null && fc-list | grep -qi wqy || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null; }

# axe-core for the accessibility tests: the npm registry's tarball of a pinned version, checked against its published
# sha512 (no npm needed), its axe.min.js kept in tests/vendor/ (git-ignored). Does nothing once it is there.
axe: $(VENV)/ready
	@$(PY) tests/support/fetch_axe.py >/dev/null

# PostgreSQL from Debian's packages; the tests start (and stop) a throwaway server of their own.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; }

# The linter, then every test, then the views' suites again with the app on PostgreSQL, so the two stores cannot
# drift apart; each run in WORKERS processes (pytest-xdist): 3 on 2 cores was the fastest of 3, 4 and 6.
test: setup browser axe postgres
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -n $(WORKERS)
	SLOTCAST_TEST_ENGINE=postgres $(PY) -m pytest -n $(WORKERS) -m "not browser and not postgres" $(VIEW_TESTS)

WORKERS ?= 3

# The long fault suite (~4 minutes): real servers under steady traffic through kill -9, PostgreSQL restarts, a
# frozen worker, lost listeners, a database outage and a full disk (a small tmpfs: needs root or sudo).
faults: setup postgres
	$(PY) -m pytest -m faults tests/test_fault_suite.py

VIEW_TESTS := tests/test_pages.py tests/test_api.py tests/test_events.py tests/test_admin.py tests/test_kiosk.py \
	tests/test_queue.py tests/test_i18n.py tests/test_time.py tests/test_security.py tests/test_headers.py \
	tests/test_fairness.py tests/test_waitlist.py tests/test_ops.py tests/test_exports.py tests/test_manage.py \
	tests/test_openapi.py tests/test_outbox.py tests/test_mail.py tests/test_admission.py tests/test_roles.py \
	tests/test_auth.py tests/test_audit.py tests/test_staff_pages.py tests/test_login_guard.py tests/test_finding.py tests/test_encoding.py tests/test_sms.py \
	tests/test_api_keys.py tests/test_webhook_endpoints.py tests/test_known_full.py

# PostgreSQL booking throughput and NOTIFY delay on a throwaway server (prints the numbers).
bench-postgres: setup postgres
	$(PY) -m bench.pg_bookings

# Benchmarks against a real Hypercorn on 127.0.0.1, with Node and uvicorn baselines (not part of `make test`):
# ~14 minutes; `make bench QUICK=1` (N = 1,000 only) ~4. Results in bench/results/. Its own venv: never the app's.
bench: setup postgres bench/.venv/ready
	@command -v node >/dev/null || { echo "make bench needs Node.js (node) for its baseline"; exit 1; }
	bench/.venv/bin/python -m bench $(if $(QUICK),--quick)

bench/.venv/ready: bench/requirements.txt $(VENV)/ready
	$(PY) -m venv bench/.venv
	bench/.venv/bin/python -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	touch $@

# Re-extract the messages after changing user-facing text, then translate the new ones in the .po files.
messages: setup
	$(VENV)/bin/pybabel extract -F babel.cfg -k N_ -k NC_:1c,2 -k NCP_:1c,2,3 -o translations/messages.pot --no-location --omit-header .
	$(VENV)/bin/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) translations/*/LC_MESSAGES/*.mo
