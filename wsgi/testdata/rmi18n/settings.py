"""Django settings for the route-map test of i18n_patterns() and
unanchored regexes: GRAFT_I18N_PREFIX_DEFAULT=0 drops the default
language's prefix, GRAFT_I18N_LOCALE=0 leaves LocaleMiddleware out."""

import os

SECRET_KEY = "graft-rmi18n-test-secret-not-for-production"
DEBUG = False
ALLOWED_HOSTS = ["example.com"]  # httptest.NewRequest's host
INSTALLED_APPS = []
USE_I18N = True
LANGUAGE_CODE = "en-us"
LANGUAGES = [("en-us", "English"), ("fr", "French"), ("de", "German")]
MIDDLEWARE = ["django.middleware.locale.LocaleMiddleware"] if os.environ.get("GRAFT_I18N_LOCALE") != "0" else []
ROOT_URLCONF = "rmi18n.urls"
DATABASES = {}
