"""An app module with a syntax error (LoadError test)."""


def application(environ, start_response)
    return []
