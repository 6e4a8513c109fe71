"""An app factory that raises (LoadError test for module:make())."""


def make():
    raise ValueError("loadfail-factory-marker: no database")
