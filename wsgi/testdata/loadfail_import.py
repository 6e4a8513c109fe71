"""An app module whose own import fails (LoadError test)."""

import graft_no_such_module_for_tests  # noqa: F401


def application(environ, start_response):
    return []
