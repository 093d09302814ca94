"""evalloop settings: every knob comes from the environment, read once, here."""

from __future__ import annotations

from pathlib import Path

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from evalloop.lib import fsbroker
from evalloop.lib.env import Env, secret_key

env = Env()
BASE_DIR = Path(__file__).resolve().parent.parent

DATA_DIR = env.path("EVALLOOP_DATA_DIR", "./.evalloop")
DATA_DIR.mkdir(parents=True, exist_ok=True)

# Opt-in: `evalloop up` on a fresh clone runs as it would for anyone else.
DEBUG = env.boolean("DEBUG", False)
_CONFIGURED_SECRET_KEY = env.string("SECRET_KEY")
SECRET_KEY = secret_key(configured=_CONFIGURED_SECRET_KEY, debug=DEBUG, data_dir=DATA_DIR)
# A generated key serves the processes of one machine; the CLI refuses it beyond (Redis).
EVALLOOP_SECRET_KEY_GENERATED = _CONFIGURED_SECRET_KEY is None
ALLOWED_HOSTS = env.csv_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.csv_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "csp",
    "django_htmx",
    "template_partials",
    "waffle",
    "ninja",
    "evalloop.teams",
    "evalloop.notifications",
    "evalloop.web",
    "evalloop.api",
    "evalloop.chat",
    "evalloop.filters",
    "evalloop.datasets",
    "evalloop.evaluators",
    "evalloop.runs",
    "evalloop.autopopulate",
]

MIDDLEWARE = [
    "evalloop.api.middleware.ApiErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "evalloop.web.middleware.RefuseUnstorableText",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "evalloop.web.middleware.secure_cookies_over_https",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "evalloop.teams.middleware.CurrentTeamMiddleware",
    "evalloop.web.middleware.UrlLengthMiddleware",
    "waffle.middleware.WaffleMiddleware",
    "evalloop.web.middleware.BusyDatabaseMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "evalloop.web.context_processors.shell",
            ],
            "builtins": [
                "template_partials.templatetags.partials",
                "evalloop.web.templatetags.when",
            ],
        },
    },
]


DATABASES = {"default": env.database("DATABASE_URL", sqlite_path=DATA_DIR / "db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "teams.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.time_zone("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise looks at it on start, before any collectstatic
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = DATA_DIR / "uploads"
# In DEBUG WhiteNoise serves straight from the source folders; otherwise from STATIC_ROOT,
# which `evalloop up` and `evalloop web` fill with collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# Large enough for a 1,000-session traffic batch; bigger bodies answer 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.integer(
    "EVALLOOP_MAX_REQUEST_BYTES", 32 * 1024 * 1024, minimum=1024
)
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

SESSION_COOKIE_HTTPONLY = True
# Cookies set over HTTPS are always Secure (evalloop.web.middleware), so the same defaults
# work on http://127.0.0.1 and behind TLS; this forces them on plain HTTP requests too.
SESSION_COOKIE_SECURE = env.boolean("EVALLOOP_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"

# Reverse proxies in front that append to X-Forwarded-For and set X-Forwarded-Proto: they
# then tell the client's address (for throttling) and whether it came over HTTPS.
EVALLOOP_TRUSTED_PROXIES = env.integer("EVALLOOP_TRUSTED_PROXIES", 0, minimum=0)
if EVALLOOP_TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Sent only on HTTPS responses, so plain http://127.0.0.1 is unaffected. No subdomains and
# no preload: the host may share its domain with services evalloop knows nothing of.
_HSTS_SECONDS = env.integer("EVALLOOP_HSTS_SECONDS", 365 * 24 * 3600, minimum=0)
SECURE_HSTS_SECONDS = 0 if DEBUG else _HSTS_SECONDS

# Scripts and styles come only from our static files: no inline code, no eval, no CDN.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Failed log-ins and API keys, counted per account and per address (evalloop.teams.throttle):
# past the limit within the window, every attempt is refused until the window ends.
EVALLOOP_AUTH_FAILURE_LIMIT = env.integer("EVALLOOP_AUTH_FAILURE_LIMIT", 50, minimum=1)
EVALLOOP_AUTH_FAILURE_WINDOW_SECONDS = env.integer(
    "EVALLOOP_AUTH_FAILURE_WINDOW_SECONDS", 15 * 60, minimum=1
)

# django-waffle: flags are per team (evalloop.teams.models.Flag).
WAFFLE_FLAG_MODEL = "teams.Flag"
WAFFLE_CREATE_MISSING_FLAGS = False
WAFFLE_FLAG_DEFAULT = False
EVALLOOP_AUTO_POPULATE_DEFAULT = env.boolean("EVALLOOP_AUTO_POPULATE_DEFAULT", True)

# Celery: Redis when CELERY_BROKER_URL is set, otherwise an embedded file-system broker in
# the data dir, which serves every process on this one machine (config/celery.py says which
# worker features it does without).
_REDIS_URL = env.broker_url("CELERY_BROKER_URL")
EVALLOOP_EMBEDDED_BROKER = _REDIS_URL is None
CELERY_BROKER_URL = _REDIS_URL or "filesystem://localhost/"
if EVALLOOP_EMBEDDED_BROKER:
    CELERY_BROKER_TRANSPORT = "evalloop.lib.fsbroker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = fsbroker.options(DATA_DIR / "broker")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_TASK_ALWAYS_EAGER = env.boolean("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TIMEZONE = TIME_ZONE

# A filter query running longer is stopped and answered as a filter error (docs/filters.md).
EVALLOOP_FILTER_TIMEOUT_SECONDS = env.integer("EVALLOOP_FILTER_TIMEOUT_SECONDS", 10, minimum=1)

# The python evaluator kind's sandbox processes (docs/sandbox.md): per worker process, how
# many, how long one evaluate() call may run, and how much memory one process may map.
EVALLOOP_PYTHON_WORKERS = env.integer("EVALLOOP_PYTHON_WORKERS", 2, minimum=1)
EVALLOOP_PYTHON_TIMEOUT_SECONDS = env.integer("EVALLOOP_PYTHON_TIMEOUT_SECONDS", 5, minimum=1)
EVALLOOP_PYTHON_MEMORY_MB = env.integer("EVALLOOP_PYTHON_MEMORY_MB", 256, minimum=64)
# Provider keys are encrypted at rest under a key derived from this (evalloop/lib/crypto.py);
# by default from SECRET_KEY, so changing either makes stored keys unreadable.
EVALLOOP_ENCRYPTION_KEY = env.string("EVALLOOP_ENCRYPTION_KEY") or SECRET_KEY
# LLM judges (evalloop/evaluators/providers.py): one call's time limit, the first pause
# before retrying a transient error (doubling, with jitter), and calls in flight per batch.
EVALLOOP_LLM_TIMEOUT_SECONDS = env.number("EVALLOOP_LLM_TIMEOUT_SECONDS", 60.0, minimum=0.1)
EVALLOOP_LLM_RETRY_BASE_SECONDS = env.number("EVALLOOP_LLM_RETRY_BASE_SECONDS", 1.0, minimum=0)
EVALLOOP_LLM_CONCURRENCY = env.integer("EVALLOOP_LLM_CONCURRENCY", 8, minimum=1)

EVALLOOP_TICK_SECONDS = env.integer("EVALLOOP_TICK_SECONDS", 30, minimum=1)
# Auto-population ticks (docs/rules.md): how far before a rule's watermark each scan starts
# again (covering writes that committed late), and how many sources one tick takes per rule.
EVALLOOP_TICK_SAFETY_MARGIN_SECONDS = env.integer(
    "EVALLOOP_TICK_SAFETY_MARGIN_SECONDS", 120, minimum=0
)
EVALLOOP_TICK_MAX_SOURCES = env.integer("EVALLOOP_TICK_MAX_SOURCES", 5000, minimum=1)
# A write that may complete a rule's sources ticks that rule this many seconds after it
# commits, so that one tick takes a whole burst of writes (docs/rules.md).
EVALLOOP_TICK_KICK_DELAY_SECONDS = env.number("EVALLOOP_TICK_KICK_DELAY_SECONDS", 1.0, minimum=0)
# The auto-population sweep (docs/rules.md): how often it re-reads each rule's window behind
# the watermark for sources the ticks missed, and how many days back.
EVALLOOP_SWEEP_SECONDS = env.integer("EVALLOOP_SWEEP_SECONDS", 3600, minimum=60)
EVALLOOP_SWEEP_LOOKBACK_DAYS = env.integer("EVALLOOP_SWEEP_LOOKBACK_DAYS", 30, minimum=1)
EVALLOOP_COORDINATOR_SECONDS = env.integer("EVALLOOP_COORDINATOR_SECONDS", 5, minimum=1)
# Runs (docs/runs.md): rows per batch task, batches in flight per run and overall, how long a
# dispatched batch may go without writing before it is dispatched again, and how many such
# stalls without progress fail a run.
EVALLOOP_RUN_BATCH_ROWS = env.integer("EVALLOOP_RUN_BATCH_ROWS", 128, minimum=1)
EVALLOOP_RUN_BATCHES_PER_RUN = env.integer("EVALLOOP_RUN_BATCHES_PER_RUN", 4, minimum=1)
EVALLOOP_RUN_BATCHES_IN_FLIGHT = env.integer("EVALLOOP_RUN_BATCHES_IN_FLIGHT", 16, minimum=1)
EVALLOOP_RUN_LEASE_SECONDS = env.integer("EVALLOOP_RUN_LEASE_SECONDS", 600, minimum=10)
EVALLOOP_RUN_STALL_LIMIT = env.integer("EVALLOOP_RUN_STALL_LIMIT", 3, minimum=1)

# E-mail, optional: with EMAIL_HOST set, the set-password link made for a member added by
# e-mail address is also sent to them; without it nothing is sent and the admin passes the
# link on (evalloop/teams/links.py).
EMAIL_HOST = env.string("EMAIL_HOST") or ""
EMAIL_PORT = env.integer("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env.string("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = env.string("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_SSL = env.boolean("EMAIL_USE_SSL", False)
EMAIL_USE_TLS = env.boolean("EMAIL_USE_TLS", not EMAIL_USE_SSL)
if EMAIL_USE_SSL and EMAIL_USE_TLS:
    raise ImproperlyConfigured(
        "EMAIL_USE_SSL and EMAIL_USE_TLS are both true: use SSL (port 465) or TLS (587)."
    )
# An empty value means the default too: an e-mail needs a sender.
DEFAULT_FROM_EMAIL = env.string("DEFAULT_FROM_EMAIL", "evalloop@localhost") or "evalloop@localhost"
EMAIL_TIMEOUT = 10  # seconds: a mail server that does not answer must not hold the page

LOG_LEVEL = env.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"client_errors_on_one_line": {"()": "evalloop.lib.logs.ClientErrorsOnOneLine"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # A 403 or 404 is one line; a 500 keeps its traceback.
        "django.request": {"filters": ["client_errors_on_one_line"]},
        "django.db.backends": {"level": "INFO"},
        # The LLM clients' HTTP library logs every request at INFO: one line per evaluation.
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        # Celery logs every task received, succeeded and scheduled at INFO: with the run
        # coordinator every few seconds that buries everything else. Failures still show.
        # At LOG_LEVEL=DEBUG they all show again.
        **{
            name: {"level": "DEBUG" if LOG_LEVEL == "DEBUG" else "WARNING"}
            for name in ("celery.app.trace", "celery.worker.strategy", "celery.beat")
        },
    },
}
