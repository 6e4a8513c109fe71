# Settings of the Django 3.2 project TestDjangoDifferential
# (examples/wsgiserve/diffdjango_test.go) serves under wsgiserve and under
# gunicorn. DIFFDJANGO_DB is the sqlite file, DIFFDJANGO_TMP the upload
# temp directory, DIFFDJANGO_DEBUG=1 turns DEBUG on, DIFFDJANGO_FORCE_SCRIPT_NAME
# sets FORCE_SCRIPT_NAME.
import os

BASE_DIR = os.path.dirname(os.path.abspath(__file__))
SECRET_KEY = "diffdjango-not-secret"
DEBUG = os.environ.get("DIFFDJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["diffdjango.test", "127.0.0.1", "proxy.example", "testserver"]
ROOT_URLCONF = "diffdjango.urls"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
]
MIDDLEWARE = [
    "django.middleware.gzip.GZipMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.http.ConditionalGetMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
DATABASES = {"default": {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": os.environ.get("DIFFDJANGO_DB", ":memory:"),
}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
APPEND_SLASH = True
# Behind a proxy: both servers trust 127.0.0.1 (gunicorn by default,
# wsgiserve by -forwarded-allow-ips), and the app reads the headers too.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = True
# Small limits, so that the tests reach them with small bodies.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2000
DATA_UPLOAD_MAX_MEMORY_SIZE = 10000
FILE_UPLOAD_TEMP_DIR = os.environ.get("DIFFDJANGO_TMP") or None
if os.environ.get("DIFFDJANGO_FORCE_SCRIPT_NAME"):
    FORCE_SCRIPT_NAME = os.environ["DIFFDJANGO_FORCE_SCRIPT_NAME"]
