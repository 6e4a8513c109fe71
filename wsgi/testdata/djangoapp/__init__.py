"""A small Django project for graft's end-to-end tests (django_test.go).

Served as "djangoapp.wsgi:application". The sqlite3 database is named by
the GRAFT_DJANGO_DB environment variable (a file in the test's temp dir),
created by `python -m django migrate` before the workers start.
"""
