"""canon(v): a representation of a Python value that keeps its types, so
that a tuple never equals a list nor a Markup a str."""
import datetime
import uuid


def canon(v):
    if isinstance(v, dict):
        return ["dict", sorted([k, canon(x)] for k, x in v.items())]
    if isinstance(v, (list, tuple)):
        return [type(v).__name__, [canon(x) for x in v]]
    if isinstance(v, bytes):
        return ["bytes", v.hex()]
    if isinstance(v, uuid.UUID):
        return ["UUID", str(v)]
    if isinstance(v, datetime.datetime):
        return ["datetime", v.isoformat()]
    return [type(v).__name__, v]
