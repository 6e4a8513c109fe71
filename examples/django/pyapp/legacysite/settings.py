import os

from django.core.exceptions import ImproperlyConfigured


def _env(name):
    value = os.environ.get(name)
    if not value:
        raise ImproperlyConfigured(f"set {name} (examples/django/main.go does)")
    return value


SECRET_KEY = _env("GRAFT_DJANGO_SECRET_KEY")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"] + [
    h.strip() for h in os.environ.get("GRAFT_DJANGO_ALLOWED_HOSTS", "").split(",") if h.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "notes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Logs in the user Go authenticated: graft passes it as the REMOTE_USER
    # environ key (middleware.WithRemoteUser), which only Go can set. A
    # client's Remote-User header arrives as HTTP_REMOTE_USER and is ignored.
    "django.contrib.auth.middleware.RemoteUserMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # Users Go vouches for (created on first sight, as unprivileged users).
    "django.contrib.auth.backends.RemoteUserBackend",
    # Passwords, for the admin's login form.
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "legacysite.urls"
WSGI_APPLICATION = "legacysite.wsgi.application"

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
            ],
        },
    }
]

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": _env("GRAFT_DJANGO_DB")}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

# No FORCE_SCRIPT_NAME: graft passes the mount prefix as SCRIPT_NAME, so
# reverse() and redirects carry it. A relative STATIC_URL gets it too
# (Django >= 3.1); Go serves the admin's files under <prefix>/static/.
STATIC_URL = "static/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
