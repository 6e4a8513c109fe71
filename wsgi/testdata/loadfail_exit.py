"""An app module that exits the interpreter at import (LoadError test)."""

import os
import sys

print("loadfail-exit-marker: giving up", file=sys.stderr, flush=True)
os._exit(7)
