"""The Django project of graft's Django example (examples/django).

Settings come from environment variables that main.go sets:
GRAFT_DJANGO_DB (the sqlite3 file), GRAFT_DJANGO_SECRET_KEY and, optionally,
GRAFT_DJANGO_ALLOWED_HOSTS (comma-separated, on top of the local names).
"""
