# The two commands a newcomer runs: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

# Under CI the suite runs on the real services there: PostgreSQL as portal database and Redis as
# broker and cache. Elsewhere it uses the embedded defaults (SQLite, files under var/).
ifeq ($(CI),true)
TEST_SERVICES ?= DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/15
endif
TEST_ENV := VAR_DIR=$(CURDIR)/var/test CACHE_KEY_PREFIX=test $(TEST_SERVICES)

.PHONY: demo test lint bench install clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { echo "python venv failed: apt-get install python3-venv"; exit 1; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

demo: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_lake
	$(PY) manage.py demo_users
	$(PY) manage.py demo_experiments
	$(PY) manage.py pipeline_health --days 90
	$(PY) manage.py demo

test: $(STAMP)
	$(TEST_ENV) $(PY) manage.py check
	$(TEST_ENV) $(PY) manage.py metrics validate
	$(TEST_ENV) $(PY) manage.py schemas check
	$(TEST_ENV) $(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf var/test var/cache var/broker
