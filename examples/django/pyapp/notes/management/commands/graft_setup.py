"""Prepares the database before graft starts the workers.

Run once by examples/django/main.go, with the interpreter of the workers:
migrates, makes sure the superuser exists with the given password
(GRAFT_ADMIN_USER, GRAFT_ADMIN_PASSWORD: environment, not arguments, to
keep the password out of ps) and adds a few demo notes to an empty database.
"""

import os

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from notes.models import Note


class Command(BaseCommand):
    help = "migrate, ensure the demo superuser, seed demo notes"

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=0)
        username = os.environ.get("GRAFT_ADMIN_USER", "admin")
        password = os.environ.get("GRAFT_ADMIN_PASSWORD")
        if not password:
            raise CommandError("set GRAFT_ADMIN_PASSWORD")
        User = get_user_model()
        admin, _ = User.objects.get_or_create(username=username)
        admin.is_staff = admin.is_superuser = admin.is_active = True
        admin.set_password(password)
        admin.save()
        if not Note.objects.exists():
            alice, _ = User.objects.get_or_create(username="alice")
            Note.objects.create(owner=alice, title="Move GET /api/whoami/ to Go", body="Done: Go answers it.")
            Note.objects.create(owner=alice, title="Keep the admin in Django", body="It works under /legacy/.")
            Note.objects.create(owner=admin, title="Rotate the API tokens", body="They live in main.go's -token flags.")
