"""A Django project whose static files WhiteNoise serves, for graft's
migrate tests of static routes moved to fallback.Static (staticshadow_test.go).

STATIC_ROOT is this package's static/ folder, as after collectstatic."""

import os

SECRET_KEY = "graft-migrate-static-test-secret-not-for-production"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["django.contrib.staticfiles"]
MIDDLEWARE = [
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "djangostatic.urls"
DATABASES = {}
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False
STATIC_URL = "/static/"
STATIC_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
