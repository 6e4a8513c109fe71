"""A Django project with LocaleMiddleware and i18n_patterns(), for graft's
migrate tests: the Vary and Content-Language headers LocaleMiddleware adds
(vary_test.go) and the inventory of per-language routes
(inventory_test.go). No database."""

SECRET_KEY = "graft-migrate-i18n-test-secret-not-for-production"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = []
MIDDLEWARE = ["django.middleware.locale.LocaleMiddleware"]
ROOT_URLCONF = "djangoi18n.urls"
DATABASES = {}
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = True
LANGUAGE_CODE = "en-us"
LANGUAGES = [("en-us", "English"), ("fr", "French")]
