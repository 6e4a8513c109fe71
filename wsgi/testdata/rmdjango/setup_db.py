"""Migrates the test database and creates the users of the identity tests:
ada (staff, in the editors and authors groups) and bob (superuser), both with
the password given as argv[1]."""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rmdjango.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402

call_command("migrate", interactive=False, verbosity=0)
password = sys.argv[1]
ada = User.objects.create_user("ada", password=password, is_staff=True)
for name in ("editors", "authors"):
    ada.groups.add(Group.objects.create(name=name))
User.objects.create_superuser("bob", password=password)
