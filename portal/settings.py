"""The portal's one settings module; everything that varies comes from the environment."""

import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
import plotly
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from core.engines import EMBEDDED_ENGINE, ENGINE_NAMES
from portal.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_int_map,
    env_list,
    env_optional,
    env_rate,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

PORTAL_ENV = env_choice("PORTAL_ENV", ("development", "production"), "development")
PRODUCTION = PORTAL_ENV == "production"
DEBUG = env_bool("DEBUG", not PRODUCTION)


def _secret_key() -> str:
    if PRODUCTION:
        return env_str("SECRET_KEY")
    if key := env_optional("SECRET_KEY"):
        return key
    # The demo generates its key once and keeps it under var/ so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_urlsafe(50))
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", () if PRODUCTION else ("127.0.0.1", "localhost"))
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Its intcomma writes counts with thousands separators.
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "axes",
    "portal",
    "warehouse",
    "alerts",
    "metrics",
    "experiments",
    "privacy",
    "pipeline",
    "explore",
    "annotations",
    "saved_views",
    "home",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "privacy.account_audit.AuditActorMiddleware",
    "portal.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.middleware.ErrorResponseMiddleware",
    # Last: turns a login refused by django-axes into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.roles",
            ],
        },
    },
]

# Portal database: SQLite under var/ by default, PostgreSQL in production.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not memory, so that Celery worker processes started by the tests share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_portal.sqlite3")}
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Sessions in the portal DB only (one primary-key read per request): login and pages keep
# working while Redis is down, and a logout is never undone by a stale cached session.
SESSION_ENGINE = "django.contrib.sessions.backends.db"

# Broker and cache: Redis when REDIS_URL is set; otherwise embedded and shared through var/.
REDIS_URL = env_optional("REDIS_URL")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
    CACHES = {
        "default": {
            # Redis away: reads miss and writes are skipped (portal.cache), nothing fails.
            "BACKEND": "portal.cache.TolerantRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "portal"),
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        }
    }
else:
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    # kombu's filesystem transport made atomic and crash-safe (see portal/broker.py); a class
    # path is accepted as the transport setting, not in the URL.
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT = "portal.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "polling_interval": 0.05,
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "portal"),
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }
# Per process (portal.local_cache): derived values that hold nothing of a user or of a row.
CACHES["local"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "TIMEOUT": None,
    "OPTIONS": {"MAX_ENTRIES": 1_000},
}

CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Warehouse: which engine runs canonical SQL, and how it is reached.
WAREHOUSE = env_choice("WAREHOUSE", ENGINE_NAMES, EMBEDDED_ENGINE)
LAKE_ROOT = Path(env_str("LAKE_ROOT", str(VAR_DIR / "lake")))
QUERY_TIME_LIMIT_SECONDS = env_int("QUERY_TIME_LIMIT_SECONDS", 300)
QUERY_WAIT_SECONDS = env_float("QUERY_WAIT_SECONDS", 2.0)
# The most one query may scan (compressed bytes of the columns read): DuckDB refuses a query
# estimated over it before it runs; on Athena set the workgroup's BytesScannedCutoffPerQuery.
# 0 turns it off. 10 GiB is 20 times the bench lake's 50M events (all columns, 90 days).
QUERY_MAX_BYTES_SCANNED = env_int("QUERY_MAX_BYTES_SCANNED", 10 * 2**30)
# A run's lease: its worker renews it four times per QUERY_RUN_LEASE_SECONDS while the engine
# works; a run whose lease expired (worker killed, message lost) is taken over by a redelivered
# task, an identical request or the sweeper (every QUERY_RUN_SWEEP_SECONDS), and fails after
# QUERY_RUN_MAX_ATTEMPTS attempts.
QUERY_RUN_LEASE_SECONDS = env_int("QUERY_RUN_LEASE_SECONDS", 30)
QUERY_RUN_SWEEP_SECONDS = env_int("QUERY_RUN_SWEEP_SECONDS", 15)
QUERY_RUN_MAX_ATTEMPTS = env_int("QUERY_RUN_MAX_ATTEMPTS", 3)
# Queued + running runs one user may have at a time (0: no cap); more answer 429.
QUERY_USER_MAX_IN_FLIGHT = env_int("QUERY_USER_MAX_IN_FLIGHT", 8)
# force_refresh runs a paid scan again: honoured for these roles, for results older than
# QUERY_FORCE_REFRESH_MIN_AGE_SECONDS and up to QUERY_FORCE_REFRESH_PER_HOUR times per user;
# otherwise the cached result is served. Jobs (no user) always may.
QUERY_FORCE_REFRESH_ROLES = env_list("QUERY_FORCE_REFRESH_ROLES", ("analyst", "admin"))
QUERY_FORCE_REFRESH_MIN_AGE_SECONDS = env_int("QUERY_FORCE_REFRESH_MIN_AGE_SECONDS", 300)
QUERY_FORCE_REFRESH_PER_HOUR = env_int("QUERY_FORCE_REFRESH_PER_HOUR", 30)
# Temporary files of lake writers older than this are a killed writer's: swept hourly.
LAKE_TMP_MAX_AGE_SECONDS = env_int("LAKE_TMP_MAX_AGE_SECONDS", 6 * 3600)
RESULT_CACHE_TTL_SECONDS = env_int("RESULT_CACHE_TTL_SECONDS", 24 * 3600)
DUCKDB_THREADS = env_int("DUCKDB_THREADS", 2)
DUCKDB_MEMORY_LIMIT = env_str("DUCKDB_MEMORY_LIMIT", "4GB")

ATHENA = {
    "region": env_str("ATHENA_REGION", "eu-west-1"),
    "workgroup": env_str("ATHENA_WORKGROUP", "primary"),
    "s3_output": env_optional("ATHENA_S3_OUTPUT"),
    "database": env_str("ATHENA_DATABASE", "analytics"),
    "catalog": env_str("ATHENA_CATALOG", "AwsDataCatalog"),
    "usd_per_tb": env_float("ATHENA_USD_PER_TB", 5.0),
    "result_reuse_minutes": env_int("ATHENA_RESULT_REUSE_MINUTES", 60),
}
REDSHIFT = {
    "host": env_optional("REDSHIFT_HOST"),
    "port": env_int("REDSHIFT_PORT", 5439),
    "database": env_str("REDSHIFT_DATABASE", "analytics"),
    "user": env_optional("REDSHIFT_USER"),
    "password": env_optional("REDSHIFT_PASSWORD"),
    "ssl": env_bool("REDSHIFT_SSL", True),
}
WAREHOUSE_POSTGRES_URL = env_optional("WAREHOUSE_POSTGRES_URL")

_REQUIRED_BY_ENGINE = {
    "athena": {"ATHENA_S3_OUTPUT": ATHENA["s3_output"]},
    "redshift": {
        "REDSHIFT_HOST": REDSHIFT["host"],
        "REDSHIFT_USER": REDSHIFT["user"],
        "REDSHIFT_PASSWORD": REDSHIFT["password"],
    },
    "postgres": {"WAREHOUSE_POSTGRES_URL": WAREHOUSE_POSTGRES_URL},
}
for _name, _value in _REQUIRED_BY_ENGINE.get(WAREHOUSE, {}).items():
    if not _value:
        raise ImproperlyConfigured(f"{_name} is required when WAREHOUSE={WAREHOUSE}.")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login lockout (django-axes): AXES_FAILURE_LIMIT wrong passwords for one username from one IP
# lock that pair out for AXES_COOLOFF_MINUTES; a successful login resets the count. Attempts are
# kept in the portal DB (not the cache), so the lockout holds while Redis is down.
AUTHENTICATION_BACKENDS = [
    "portal.authentication.AxesBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Its start-up banner would open the output of every manage.py command.
AXES_VERBOSE = False
# The client IP of the lockout and of the bearer-token throttle (portal.authentication.client_ip):
# REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies that append to X-Forwarded-For the address
# the outermost one saw. Set it only behind such proxies: clients can send that header too.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "portal.authentication.client_ip"
# Bad bearer tokens: after SERVICE_TOKEN_FAILURE_LIMIT failures from one IP within
# SERVICE_TOKEN_FAILURE_WINDOW_SECONDS, that IP gets 429 with Retry-After until the window ends.
SERVICE_TOKEN_FAILURE_LIMIT = env_int("SERVICE_TOKEN_FAILURE_LIMIT", 20)
SERVICE_TOKEN_FAILURE_WINDOW_SECONDS = env_int("SERVICE_TOKEN_FAILURE_WINDOW_SECONDS", 300)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# plotly.js comes from the installed plotly package: no CDN, no network.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("plotly", Path(plotly.__file__).parent / "package_data"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "portal.authentication.ServiceTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["portal.permissions.IsPortalUser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # core.errors.InputError -> 400 {"<field>": ["<problem>"]}, as serializers answer.
    "EXCEPTION_HANDLER": "portal.errors.api_exception_handler",
    # JSON bodies bounded in size (413) and nesting (400): portal.parsers.
    "DEFAULT_PARSER_CLASSES": [
        "portal.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # Per user, on the pages and APIs that submit warehouse queries (portal.throttles): a
    # burst limit and an hourly one, shared by pages and API; "off" for none.
    "DEFAULT_THROTTLE_RATES": {
        "query_burst": env_rate("QUERY_THROTTLE_BURST", "300/minute"),
        "query_sustained": env_rate("QUERY_THROTTLE_SUSTAINED", "3000/hour"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Portal API",
    "DESCRIPTION": "Metrics, experiments, privacy and pipeline health.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["portal.permissions.IsPortalUser"],
    # Choice sets that share a field name ("status", "metric_type") get names of their own.
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": ["queued", "running", "succeeded", "failed"],
        "RunInFlightStatusEnum": ["queued", "running"],
        "ExperimentStatusEnum": ["draft", "running", "stopped", "concluded"],
        "DsarStatusEnum": [
            "filed",
            "approved",
            "queued",
            "running",
            "completed",
            "failed",
            "unknown_subject",
            "rejected",
            "cancelled",
        ],
        "DsarKindEnum": ["erasure", "access"],
        "SavedViewKindEnum": ["dashboard", "metric", "explore"],
        "DsarVerificationMethodEnum": [
            "account_login",
            "email_confirmation",
            "id_document",
            "signed_letter",
            "authorised_agent",
        ],
        "MetricTypeEnum": ["proportion", "mean", "ratio"],
        "SizedMetricTypeEnum": ["proportion", "mean"],
    },
}

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "portal@localhost")
ALERT_EMAILS = env_list("ALERT_EMAILS")

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# Identity and user ids are masked in every line these handlers write (privacy.log_filters): an
# erased subject's ids must not stay in request logs. django.server (runserver's request lines)
# is redefined with the filter; the django logger writes through the root handler only.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_ids": {"()": "privacy.log_filters.MaskIds"}},
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["mask_ids"]},
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["mask_ids"],
        },
    },
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# --- metrics ---
METRICS_DIR = BASE_DIR / "analytics" / "metrics"
METRICS_MAX_WINDOW_DAYS = env_int("METRICS_MAX_WINDOW_DAYS", 400)

# --- metrics (pages, API, dashboard warming) ---
# Celery beat warms every dashboard tile daily at this hour (UTC) and checks for a moved lake
# watermark this often.
METRICS_WARM_HOUR_UTC = env_int("METRICS_WARM_HOUR_UTC", 5)
METRICS_WARM_CHECK_SECONDS = env_int("METRICS_WARM_CHECK_SECONDS", 300)

# --- privacy ---
# Key of the DSAR tombstones and of the hashes the audit log keeps instead of erased ids.
# Changing it breaks "was this id erased?" look-ups of earlier requests.
PRIVACY_HASH_KEY = env_str("PRIVACY_HASH_KEY", SECRET_KEY)
PRIVACY_DSAR_DUE_DAYS = env_int("PRIVACY_DSAR_DUE_DAYS", 30)
# GDPR art. 12(3): the deadline may be extended by two further months, with a reason.
PRIVACY_DSAR_MAX_EXTENSION_DAYS = env_int("PRIVACY_DSAR_MAX_EXTENSION_DAYS", 60)
# Access exports: zips the privacy team downloads and hands to the subject, deleted once expired.
PRIVACY_EXPORT_DIR = Path(env_str("PRIVACY_EXPORT_DIR", str(VAR_DIR / "dsar_exports")))
PRIVACY_EXPORT_TTL_HOURS = env_int("PRIVACY_EXPORT_TTL_HOURS", 7 * 24)
# A running erasure whose heartbeat is older than this may be taken over by a re-run.
PRIVACY_DSAR_STALE_SECONDS = env_int("PRIVACY_DSAR_STALE_SECONDS", 120)
PRIVACY_DSAR_TIME_LIMIT_SECONDS = env_int("PRIVACY_DSAR_TIME_LIMIT_SECONDS", 3600)
PRIVACY_CONSENT_CACHE_SECONDS = env_int("PRIVACY_CONSENT_CACHE_SECONDS", 3600)
# The lake's consent_changes is imported this often (privacy.tasks.consent_sync), from the last
# import's end less PRIVACY_CONSENT_IMPORT_OVERLAP_DAYS (partitions the pipeline may still add to).
PRIVACY_CONSENT_SYNC_SECONDS = env_int("PRIVACY_CONSENT_SYNC_SECONDS", 600)
PRIVACY_CONSENT_IMPORT_OVERLAP_DAYS = env_int("PRIVACY_CONSENT_IMPORT_OVERLAP_DAYS", 3)
# Marketing pixels the apps may fire for an identity with marketing consent.
PRIVACY_MARKETING_PIXELS = env_list("PRIVACY_MARKETING_PIXELS", ("google_ads", "meta"))
# Retention of lake partitions in months: per layer, and per table (RETENTION_TABLE_MONTHS,
# e.g. "fact_sfw_checks=13,raw_events=13") overriding its layer; 0 keeps a table forever. The
# consent log is kept unless RETENTION_TABLE_MONTHS names it: consent at any time is proven by
# its latest change. Unknown tables and negative months fail the system check (privacy.apps).
PRIVACY_RETENTION_LAYER_MONTHS = {
    "bronze": env_int("RETENTION_BRONZE_MONTHS", 25),
    "silver": env_int("RETENTION_SILVER_MONTHS", 36),
    "gold": env_int("RETENTION_GOLD_MONTHS", 36),
}
PRIVACY_RETENTION_TABLE_MONTHS = env_int_map("RETENTION_TABLE_MONTHS", {"consent_changes": 0})
for _layer, _months in PRIVACY_RETENTION_LAYER_MONTHS.items():
    if _months < 1:
        raise ImproperlyConfigured(f"RETENTION_{_layer.upper()}_MONTHS must be at least 1.")
PRIVACY_RETENTION_HOUR_UTC = env_int("PRIVACY_RETENTION_HOUR_UTC", 3)

# --- pipeline ---
# The event schema registry: <dir>/<event name>/v<major>.<minor>.json (docs/pipeline.md).
PIPELINE_SCHEMA_DIR = Path(env_str("PIPELINE_SCHEMA_DIR", str(BASE_DIR / "analytics" / "schemas")))
# Budgets and thresholds of the health checks; each can be overridden in the admin
# (Pipeline > Threshold overrides). Buckets with fewer events than min_bucket_events are shown
# but not judged; a bucket is provisional until settle_minutes after it closed.
PIPELINE_THRESHOLDS = {
    "loss_min_ratio": env_float("PIPELINE_LOSS_MIN_RATIO", 0.95),
    "loss_warn_ratio": env_float("PIPELINE_LOSS_WARN_RATIO", 0.98),
    "lag_silver_p95_budget_s": env_float("PIPELINE_LAG_SILVER_P95_BUDGET_S", 300.0),
    "lag_gold_p95_budget_s": env_float("PIPELINE_LAG_GOLD_P95_BUDGET_S", 1800.0),
    "warn_share": env_float("PIPELINE_WARN_SHARE", 0.8),
    "min_bucket_events": env_int("PIPELINE_MIN_BUCKET_EVENTS", 200),
    "volume_max_score": env_float("PIPELINE_VOLUME_MAX_SCORE", 4.0),
    "volume_min_events": env_int("PIPELINE_VOLUME_MIN_EVENTS", 50),
    "volume_weeks": env_int("PIPELINE_VOLUME_WEEKS", 4),
    "volume_min_weeks": env_int("PIPELINE_VOLUME_MIN_WEEKS", 2),
    "dead_letter_max_rate": env_float("PIPELINE_DEAD_LETTER_MAX_RATE", 0.01),
    "freshness_stream_budget_min": env_float("PIPELINE_FRESHNESS_STREAM_BUDGET_MIN", 60.0),
    "freshness_daily_budget_h": env_float("PIPELINE_FRESHNESS_DAILY_BUDGET_H", 30.0),
    "settle_minutes": env_int("PIPELINE_SETTLE_MINUTES", 180),
    "alert_window_hours": env_int("PIPELINE_ALERT_WINDOW_HOURS", 48),
}
# Freshness: stream tables are judged by their newest processed time, daily tables by their
# newest partition; other tables are shown without a budget.
PIPELINE_FRESHNESS_STREAM_TABLES = env_list(
    "PIPELINE_FRESHNESS_STREAM_TABLES", ("raw_events", "events", "fact_funnel_events")
)
PIPELINE_FRESHNESS_DAILY_TABLES = env_list(
    "PIPELINE_FRESHNESS_DAILY_TABLES",
    (
        "fact_bookings", "fact_availability_snapshots", "fact_messages_sent", "fact_promo_spend",
        "fact_seo_landings", "fact_sfw_checks", "fact_experiment_exposures", "support_tickets",
        "consent_changes",
    ),
)  # fmt: skip
# Celery beat recomputes the last PIPELINE_HEALTH_DAYS days this often; the daily triage digest
# of new dead-letter reasons is an alert at PIPELINE_DIGEST_HOUR_UTC (emailed to ALERT_EMAILS).
PIPELINE_HEALTH_DAYS = env_int("PIPELINE_HEALTH_DAYS", 3)
PIPELINE_HEALTH_INTERVAL_SECONDS = env_int("PIPELINE_HEALTH_INTERVAL_SECONDS", 600)
# Records of earlier runs (HealthRun) are kept this long.
PIPELINE_HEALTH_RUNS_KEEP_DAYS = env_int("PIPELINE_HEALTH_RUNS_KEEP_DAYS", 30)
PIPELINE_DIGEST_HOUR_UTC = env_int("PIPELINE_DIGEST_HOUR_UTC", 7)

# --- Celery beat: every periodic task, in one place (intervals in seconds, crontabs in UTC) ---
CELERY_BEAT_SCHEDULE: dict = {
    "recover-stale-query-runs": {
        "task": "warehouse.tasks.recover_stale_runs",
        "schedule": float(QUERY_RUN_SWEEP_SECONDS),
    },
    "remove-stale-lake-tmp-files": {
        "task": "warehouse.tasks.remove_stale_lake_tmp_files",
        "schedule": 3600.0,
    },
    "experiments: results of running experiments": {
        "task": "experiments.tasks.compute_running_results",
        "schedule": 3600.0,
    },
    # A dead DSAR job is taken over within 1.5 stale limits, without anyone pressing Run.
    "privacy: queue again DSAR requests whose job died": {
        "task": "privacy.tasks.dsar_requeue_stale",
        "schedule": max(PRIVACY_DSAR_STALE_SECONDS / 2, 1.0),
    },
    "privacy: delete expired access exports": {
        "task": "privacy.tasks.dsar_exports_expire",
        "schedule": 3600.0,
    },
    "privacy: sync consent with the lake's consent_changes": {
        "task": "privacy.tasks.consent_sync",
        "schedule": float(PRIVACY_CONSENT_SYNC_SECONDS),
    },
    "privacy: drop expired lake partitions and remote rows": {
        "task": "privacy.tasks.retention_daily",
        "schedule": crontab(minute=0, hour=PRIVACY_RETENTION_HOUR_UTC),
    },
    "privacy: check payload keys against the PII allowlist": {
        "task": "privacy.tasks.payload_scan_daily",
        "schedule": crontab(minute=30, hour=PRIVACY_RETENTION_HOUR_UTC),
    },
    "metrics: warm dashboards daily": {
        "task": "metrics.tasks.warm_dashboards",
        "schedule": crontab(minute=0, hour=METRICS_WARM_HOUR_UTC),
    },
    "metrics: warm dashboards when the lake watermark moves": {
        "task": "metrics.tasks.warm_dashboards_on_new_data",
        "schedule": float(METRICS_WARM_CHECK_SECONDS),
    },
    "pipeline: health checks": {
        "task": "pipeline.tasks.run_health_checks",
        "schedule": float(PIPELINE_HEALTH_INTERVAL_SECONDS),
    },
    "pipeline: dead-letter triage digest": {
        "task": "pipeline.tasks.send_triage_digest",
        "schedule": crontab(minute=0, hour=PIPELINE_DIGEST_HOUR_UTC),
    },
}

# --- health (/healthz) ---
# Each Celery worker writes its heartbeat to the portal DB this often; /healthz answers 503
# naming "workers" when no worker has beaten for HEALTH_WORKER_STALE_SECONDS.
HEALTH_WORKER_BEAT_SECONDS = env_float("HEALTH_WORKER_BEAT_SECONDS", 10.0)
HEALTH_WORKER_STALE_SECONDS = env_float("HEALTH_WORKER_STALE_SECONDS", 60.0)
# With DEBUG on (the demo), Django's technical 404/500 pages replace the portal's unless this is
# set: a developer who wants tracebacks in the browser sets it (they are in the log anyway).
TECHNICAL_ERROR_PAGES = env_bool("TECHNICAL_ERROR_PAGES", False)
CSRF_FAILURE_VIEW = "portal.errors.csrf_failure"
