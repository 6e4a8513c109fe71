"""Hides every installed package from this interpreter, as if it were one
without Flask or Django (a pyenv or a fresh virtualenv), for the test of the
interpreter hint of a ModuleNotFoundError (put this directory on
PYTHONPATH)."""

import sys

sys.path[:] = [p for p in sys.path if "-packages" not in p]
