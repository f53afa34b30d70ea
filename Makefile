# The two commands a newcomer runs: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# Installs come from requirements.lock (exact versions and hashes of every dependency);
# pyproject.toml keeps the compatible ranges and `make lock` re-resolves the lock from them.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | sha1sum | cut -c1-12)
PIP_VERSION := 26.3
UV_VERSION := 0.13.9

# Under CI the suite runs on the real services there: PostgreSQL as portal database and Redis as
# broker and cache. Elsewhere it uses the embedded defaults (SQLite, files under var/).
ifeq ($(CI),true)
TEST_SERVICES ?= DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/15
endif
TEST_ENV := VAR_DIR=$(CURDIR)/var/test CACHE_KEY_PREFIX=test $(TEST_SERVICES)
# pytest-xdist workers; a test file stays on one worker, so its module fixtures are built once.
TEST_WORKERS ?= 2

.PHONY: gbstats-cases demo test lint bench install lock clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { echo "python venv failed: apt-get install python3-venv"; exit 1; }
	$(PY) -m pip install --quiet pip==$(PIP_VERSION)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) tools/check_lock.py
	@rm -f $(VENV)/.installed-* && touch $@

# Re-resolve every dependency within pyproject's ranges for Python 3.11 (any platform) into
# requirements.lock; commit the result on its own, as a deliberate upgrade.
lock:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv==$(UV_VERSION)
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --no-header --index-url https://pypi.org/simple -o requirements.lock

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
	$(TEST_ENV) $(PY) manage.py schemas check --released
	$(TEST_ENV) $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: $(STAMP)
	$(PY) -m bench

# GrowthBook's stats engine as the experiments tests' reference (experiments/tests/
# gbstats_cases.json). It pins numpy<2 and pandas<2, so it gets throwaway venvs of its own.
# CUPED for ratio metrics (RegressionAdjustedRatioStatistic) is in gbstats' source but in no
# release (0.8.0, PyPI's newest, predates it), so those cases come from a pinned commit of the
# GrowthBook repository, the rest still from the release. GBSTATS_SOURCE may name an export of
# that commit's packages/stats instead (file:///path), for a machine that reaches PyPI only.
GBSTATS_RELEASE := 0.8.0
GBSTATS_COMMIT := 8f1db4456915a8e7b7faf23d5632ca7219d2f469
GBSTATS_SOURCE ?= git+https://github.com/growthbook/growthbook@$(GBSTATS_COMMIT)\#subdirectory=packages/stats
gbstats-cases:
	rm -rf var/gbstats-venv var/gbstats-source-venv
	$(PYTHON) -m venv var/gbstats-venv
	var/gbstats-venv/bin/pip install --quiet gbstats==$(GBSTATS_RELEASE)
	var/gbstats-venv/bin/python tools/gbstats_cases.py released gbstats==$(GBSTATS_RELEASE)
	$(PYTHON) -m venv var/gbstats-source-venv
	var/gbstats-source-venv/bin/pip install --quiet "gbstats @ $(GBSTATS_SOURCE)"
	var/gbstats-source-venv/bin/python tools/gbstats_cases.py ratio_cuped \
		growthbook/growthbook@$(GBSTATS_COMMIT):packages/stats

clean:
	rm -rf var/test var/cache var/broker
