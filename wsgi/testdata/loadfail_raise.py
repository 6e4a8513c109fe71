"""An app module that raises at import (LoadError test)."""

raise RuntimeError("loadfail-raise-marker: cannot configure the app")
