"""Django settings for the route-map and identity tests: the admin (for a
real login form), database sessions, ModelBackend."""

import os

from django.core.exceptions import ImproperlyConfigured

SECRET_KEY = "graft-rmdjango-test-secret-not-for-production"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

# GRAFT_TEST_REMOTE_USER adds Django's REMOTE_USER login (the identity
# tests): "persistent" PersistentRemoteUserMiddleware, "remote"
# RemoteUserMiddleware, "header" a subclass reading the X-Auth-User
# header; with RemoteUserBackend after ModelBackend, as Django's docs set
# it up next to a login form.
_remote = os.environ.get("GRAFT_TEST_REMOTE_USER")
if _remote:
    MIDDLEWARE.append({
        "persistent": "django.contrib.auth.middleware.PersistentRemoteUserMiddleware",
        "remote": "django.contrib.auth.middleware.RemoteUserMiddleware",
        "header": "rmdjango.views.HeaderRemoteUserMiddleware",
    }[_remote])
    AUTHENTICATION_BACKENDS = [
        "django.contrib.auth.backends.ModelBackend",
        "django.contrib.auth.backends.RemoteUserBackend",
    ]

ROOT_URLCONF = "rmdjango.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

_db = os.environ.get("GRAFT_DJANGO_DB")
if not _db:
    raise ImproperlyConfigured("set GRAFT_DJANGO_DB to the path of the test's sqlite3 database")
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": _db}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
SESSION_ENGINE = "django.contrib.sessions.backends.db"
STATIC_URL = "/static/"
USE_TZ = True
TIME_ZONE = "UTC"
