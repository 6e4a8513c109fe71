"""Prints Django's own view of the URLconf, one JSON line per view, with
django.contrib.admindocs' walker (what the admindocs "views" page lists):
[regex with its include() prefixes, full name]."""

import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rmdjango.settings")

import django  # noqa: E402

django.setup()

from django.contrib.admindocs.views import extract_views_from_urlpatterns  # noqa: E402
from django.urls import get_resolver  # noqa: E402

for func, regex, namespace, name in extract_views_from_urlpatterns(get_resolver().url_patterns):
    full = ":".join((namespace or []) + [name]) if name else ""
    print(json.dumps([regex, full]))
