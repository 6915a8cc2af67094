"""Django settings. Everything that varies between machines comes from the environment:

- VAFA_DATABASE_URL: a PostgreSQL URL; when unset, SQLite (WAL) in VAFA_DATA_DIR.
- VAFA_DATA_DIR: where the SQLite database and files live (default ./vafa-data).
- VAFA_SECRET_KEY: when unset, a random key is generated into <data dir>/secret_key (mode 0600) on first start
  and reused after; a hard-coded key is never used.
- VAFA_DEBUG, VAFA_ALLOWED_HOSTS.
- VAFA_HTTPS=1: served over HTTPS (directly or by a proxy): secure cookies, HSTS (one year), and plain HTTP
  redirected to HTTPS. VAFA_SECURE_COOKIES=1 sets only the secure cookies.
- VAFA_BEHIND_PROXY=1: a reverse proxy in front sets X-Forwarded-Proto (trusted for "is this HTTPS") and
  X-Forwarded-For (its last entry is taken as the client's address). Leave it off without a proxy: clients
  could then claim any address or scheme.
- VAFA_TRUSTED_ORIGINS: comma-separated origins (https://shop.example) allowed to post forms, for a proxy
  whose public origin differs from the host Django sees.
- VAFA_MAX_REQUEST_BYTES: the largest request body taken (default 8 MB); larger ones are refused with 413
  before they are read.
- VAFA_WEBHOOKS_ALLOW_PRIVATE=1: webhooks may reach loopback and private addresses (tests, one machine).
- VAFA_BACKUP_DIR (default <data dir>/backups), VAFA_BACKUP_KEEP (daily backups kept, 14; 0 turns them off).
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from vafa.core.files import private_dir, private_file

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("VAFA_DATA_DIR", "vafa-data")).resolve()

DEBUG = os.environ.get("VAFA_DEBUG", "0") == "1"
# The key earlier versions used when none was configured; `check --deploy` flags it (vafa.core.checks).
PUBLISHED_SECRET_KEY = "vafa-insecure-development-key-change-me-in-production"


def _secret_key() -> str:
    """VAFA_SECRET_KEY, or the key in <data dir>/secret_key, made (mode 0600) on first start."""
    configured = os.environ.get("VAFA_SECRET_KEY")
    if configured:
        return configured
    path = DATA_DIR / "secret_key"
    try:
        private_dir(DATA_DIR)
        if not path.exists():
            fresh = private_file(DATA_DIR / f".secret_key.{os.getpid()}")
            fresh.write_text(secrets.token_urlsafe(50) + "\n")
            try:
                os.link(fresh, path)  # atomic: of two processes starting at once, one key wins and both use it
            except FileExistsError:
                pass
            finally:
                fresh.unlink()
        key = private_file(path).read_text().strip()
    except OSError as exc:
        raise ImproperlyConfigured(f"cannot keep a secret key in {path} ({exc}); set VAFA_SECRET_KEY") from exc
    if not key:
        raise ImproperlyConfigured(f"{path} is empty; remove it to make a new key, or set VAFA_SECRET_KEY")
    return key


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = os.environ.get("VAFA_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver,[::1]").split(",")
# Uploaded files (gift pictures) under <data dir>/media, each under a random name.
MEDIA_DIR = DATA_DIR / "media"
# Shared by every server process on this machine (`vafa serve` runs several): the backtest's progress, the import
# wizard's uploaded file and the login-failure counts must be found by whichever process the next request reaches.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                      "LOCATION": str(DATA_DIR / "cache"), "OPTIONS": {"MAX_ENTRIES": 2000}}}
BACKUP_DIR = Path(os.environ.get("VAFA_BACKUP_DIR") or DATA_DIR / "backups").resolve()
BACKUP_KEEP = int(os.environ.get("VAFA_BACKUP_KEEP", "14"))  # scheduled backups kept; 0 turns them off
# Webhooks go only to public addresses; 1 lets them reach loopback and private networks (tests, one machine).
WEBHOOKS_ALLOW_PRIVATE = os.environ.get("VAFA_WEBHOOKS_ALLOW_PRIVATE", "0") == "1"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # serves the API docs page's Swagger files locally, never from a CDN
    "django_tasks",
    "django_tasks_db",
    "vafa.core",
    "vafa.access",
    "vafa.tenancy",
    "vafa.members",
    "vafa.ledger",
    "vafa.program",
    "vafa.purchases",
    "vafa.vouchers",
    "vafa.catalogue",
    "vafa.clubs",
    "vafa.woocommerce",
    "vafa.outbox",
    "vafa.webhooks",
    "vafa.jobs",
    "vafa.backups",
    "vafa.demo",
    "vafa.imports",
    "vafa.panel",
    "vafa.messaging",
    "vafa.till",
    "vafa.portal",
]

MIDDLEWARE = [
    "vafa.api.middleware.RequestSizeLimitMiddleware",
    "vafa.core.middleware.ForwardedClientMiddleware",
    "vafa.core.middleware.WriteOriginMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "vafa.core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "vafa.api.middleware.RejectNulMiddleware",
    # The screens' own (sessions, CSRF, the signed-in user, messages): Django's, not run for an API call with a
    # key and no cookie (vafa.core.middleware.key_only)
    "vafa.core.middleware.SessionMiddleware",
    "vafa.core.middleware.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "vafa.core.middleware.CsrfViewMiddleware",
    "vafa.core.middleware.AuthenticationMiddleware",
    "vafa.core.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "vafa.urls"
PUBLIC_URL = os.environ.get("VAFA_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")  # for links and QR codes
WSGI_APPLICATION = "vafa.wsgi.application"

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
            ],
        },
    },
]


# Each server thread keeps its database connection across requests (issue 11): opening one costs a PostgreSQL
# backend's start, or SQLite's file open and PRAGMAs (and a WAL checkpoint when the last one closes), on every
# request otherwise. PostgreSQL's are checked before a request reuses them (vafa.core.postgresql: a round trip
# only when the server has spoken), so a restarted database costs no failed request (docs/decisions.md).
CONN_MAX_AGE = 600


def _database() -> dict:
    url = os.environ.get("VAFA_DATABASE_URL")
    if url:
        config = dj_database_url.parse(url, conn_max_age=CONN_MAX_AGE, conn_health_checks=True)
        if config["ENGINE"] == "django.db.backends.postgresql":
            config["ENGINE"] = "vafa.core.postgresql"  # its health check without a round trip (docs/decisions.md)
        config.setdefault("TEST", {})
        # Prepared statements (issue 11): a statement seen twice on a connection is prepared, so PostgreSQL
        # parses and plans it once per connection instead of once per request (docs/decisions.md). Off with
        # VAFA_DATABASE_PREPARE=off behind a pooler in transaction mode (PgBouncer), where a connection's
        # prepared statements are not its own.
        if os.environ.get("VAFA_DATABASE_PREPARE", "on") != "off":
            config.setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 2})
        return config
    private_dir(DATA_DIR)
    # Made 0600 before SQLite opens it: SQLite gives its -wal and -shm files the database file's mode.
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": private_file(DATA_DIR / "vafa.sqlite3"),
        "OPTIONS": {
            # IMMEDIATE takes the write lock at BEGIN, so two writers never both read a balance and then
            # collide on the upgrade to a write lock: SQLite's equivalent of our row lock.
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        },
        "CONN_MAX_AGE": CONN_MAX_AGE,
        "TEST": {"NAME": str(DATA_DIR / "test-vafa.sqlite3")} if os.environ.get("VAFA_TEST_SQLITE_FILE") else {},
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTHENTICATION_BACKENDS = ["vafa.access.backends.ThrottledModelBackend"]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"
AUTH_PASSWORD_VALIDATORS = [{"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"}]

# Email to members (vafa.messaging) goes through this SMTP server.
EMAIL_HOST = os.environ.get("VAFA_SMTP_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("VAFA_SMTP_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("VAFA_SMTP_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("VAFA_SMTP_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("VAFA_SMTP_STARTTLS", "") == "1"
EMAIL_TIMEOUT = 10

LANGUAGE_CODE = "fa"
LANGUAGES = [("fa", "فارسی"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Tehran"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Only for `collectstatic`, when a web server in front is to serve the files itself (README).
STATIC_ROOT = os.environ.get("VAFA_STATIC_ROOT") or None
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").exists() else []
# WhiteNoise serves the static files from the installed apps themselves (no collectstatic step, never a copy
# left stale by an upgrade), by every server: granian, the development server and the tests alike.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

HTTPS = os.environ.get("VAFA_HTTPS", "0") == "1"
BEHIND_PROXY = os.environ.get("VAFA_BEHIND_PROXY", "0") == "1"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_PROXY else None
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = 365 * 24 * 3600 if HTTPS else 0
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("VAFA_TRUSTED_ORIGINS", "").split(",") if o.strip()]

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = HTTPS or os.environ.get("VAFA_SECURE_COOKIES", "0") == "1"
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_AGE = 12 * 3600  # sessions are staff's only: a working day, not Django's two weeks
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SAMESITE = "Lax"
# Upload bounds. MAX_REQUEST_BYTES refuses any larger body from its Content-Length before it is read (the
# largest legitimate one is a 5 MB voucher-code file); the non-file part of a body may hold 2 MB, an uploaded
# file is kept in memory up to 2 MB and spooled to a temporary file beyond.
MAX_REQUEST_BYTES = int(os.environ.get("VAFA_MAX_REQUEST_BYTES", str(8 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024  # a 10 MB body is refused with 413
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = 5

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "vafa": {"handlers": ["console"], "level": os.environ.get("VAFA_LOG_LEVEL", "INFO")},
        # A 500 is logged with its traceback in production too (Django's default sends it only to the admins'
        # mail, which is not set up); 4xx answers are warnings of their own and are not logged here.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
