"""Settings of the Django side of graft's migrate tests: no database."""

SECRET_KEY = "graft-migrate-test-secret-not-for-production"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = []
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "djangomig.urls"
DATABASES = {}
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False
