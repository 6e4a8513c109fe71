"""An app that configures logging at import as a Django project's LOGGING
often does: dictConfig with a "root" entry, which replaces the root
logger's handlers (graft's among them) with its own console handler.
GET / logs one record and answers "logged"."""

import logging
import logging.config

logging.config.dictConfig(
    {
        "version": 1,
        "handlers": {"console": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["console"], "level": "INFO"},
    }
)

log = logging.getLogger("dictlog")


def app(environ, start_response):
    log.info("dictlog-marker %s", environ.get("QUERY_STRING", ""))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"logged"]
