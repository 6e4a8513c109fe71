import os

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = os.path.dirname(os.path.abspath(__file__))

SECRET_KEY = "graft-django-test-secret-not-for-production"
# GRAFT_DJANGO_DEBUG: DEBUG on, and with it Django's default logging's
# console handler on the "django" logger (stderr).
DEBUG = bool(os.environ.get("GRAFT_DJANGO_DEBUG"))
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
]

MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Trusts the REMOTE_USER environ key, which only the server (graft's
    # wsgi.WithEnviron) can set; a client's Remote-User header becomes
    # HTTP_REMOTE_USER and must never log anybody in.
    "django.contrib.auth.middleware.RemoteUserMiddleware",
]

AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.RemoteUserBackend"]

ROOT_URLCONF = "djangoapp.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.join(BASE_DIR, "templates")],
        "APP_DIRS": False,
        "OPTIONS": {},
    }
]

_db = os.environ.get("GRAFT_DJANGO_DB")
if not _db:
    raise ImproperlyConfigured("set GRAFT_DJANGO_DB to the path of the test's sqlite3 database")

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": _db}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

SESSION_ENGINE = "django.contrib.sessions.backends.db"

USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False

if os.environ.get("GRAFT_DJANGO_CONSOLE_LOG"):
    # The LOGGING most projects have (Django's docs' first example): a
    # console handler on the root logger, which replaces graft's handler,
    # so records and their tracebacks go to the worker's stderr.
    LOGGING = {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"console": {"class": "logging.StreamHandler"}},
        "root": {"handlers": ["console"], "level": "WARNING"},
    }
    if os.environ["GRAFT_DJANGO_CONSOLE_LOG"] == "rid":
        # A format with graft's request id (TestRecordRequestID), in
        # Django's "{" style.
        LOGGING["formatters"] = {"rid": {"format": "{levelname} {request_id} {message}", "style": "{"}}
        LOGGING["handlers"]["console"]["formatter"] = "rid"
