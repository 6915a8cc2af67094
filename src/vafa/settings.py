"""Django settings. Everything that varies between machines comes from the environment:

- VAFA_DATABASE_URL: a PostgreSQL URL; when unset, SQLite (WAL) in VAFA_DATA_DIR.
- VAFA_DATA_DIR: where the SQLite database and files live (default ./vafa-data).
- VAFA_SECRET_KEY, VAFA_DEBUG, VAFA_ALLOWED_HOSTS.
- VAFA_BACKUP_DIR (default <data dir>/backups), VAFA_BACKUP_KEEP (daily backups kept, 14; 0 turns them off).
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("VAFA_DATA_DIR", "vafa-data")).resolve()

DEBUG = os.environ.get("VAFA_DEBUG", "0") == "1"
SECRET_KEY = os.environ.get("VAFA_SECRET_KEY") or "vafa-insecure-development-key-change-me-in-production"
ALLOWED_HOSTS = os.environ.get("VAFA_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver,[::1]").split(",")
BACKUP_DIR = Path(os.environ.get("VAFA_BACKUP_DIR") or DATA_DIR / "backups").resolve()
BACKUP_KEEP = int(os.environ.get("VAFA_BACKUP_KEEP", "14"))  # scheduled backups kept; 0 turns them off

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
    "vafa.messaging",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "vafa.api.middleware.RejectNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
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


def _database() -> dict:
    url = os.environ.get("VAFA_DATABASE_URL")
    if url:
        config = dj_database_url.parse(url, conn_max_age=60)
        config.setdefault("TEST", {})
        return config
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "vafa.sqlite3",
        "OPTIONS": {
            # IMMEDIATE takes the write lock at BEGIN, so two writers never both read a balance and then
            # collide on the upgrade to a write lock: SQLite's equivalent of our row lock.
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        },
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
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").exists() else []

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = os.environ.get("VAFA_SECURE_COOKIES", "0") == "1"
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SAMESITE = "Lax"
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024  # a 10 MB body is refused with 413

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"vafa": {"handlers": ["console"], "level": os.environ.get("VAFA_LOG_LEVEL", "INFO")}},
}
