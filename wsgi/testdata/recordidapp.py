"""An app whose logging format uses %(request_id)s, as gunicorn users get
it with a filter of their own (TestRecordRequestID).

At import it puts a record factory of its own on top of the one in place
(adding %(tag)s, as the logging docs show) and configures a console
handler on the root logger with the format
"rid=[%(request_id)s] tag=%(tag)s %(message)s", then logs "import-rid".
GET /log?tag=T logs "view-rid T" with app.logger, "extra-rid T" with its
own extra={"request_id": "mine-T"} (what apps that pass the id by hand
write: it must win, and not raise), and from a thread of its own
"thread-rid T"; then answers "ok"."""

import logging
import logging.config
import threading

from flask import Flask, request

_old_factory = logging.getLogRecordFactory()


def _factory(*args, **kwargs):
    record = _old_factory(*args, **kwargs)
    record.tag = "app-factory"
    return record


logging.setLogRecordFactory(_factory)

logging.config.dictConfig(
    {
        "version": 1,
        "formatters": {"rid": {"format": "rid=[%(request_id)s] tag=%(tag)s %(message)s"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "rid"}},
        "root": {"handlers": ["console"], "level": "INFO"},
    }
)

logging.getLogger(__name__).info("import-rid")

app = Flask(__name__)


@app.get("/log")
def log():
    tag = request.args["tag"]
    app.logger.info("view-rid %s", tag)
    app.logger.info("extra-rid %s", tag, extra={"request_id": "mine-" + tag})
    t = threading.Thread(target=lambda: logging.getLogger(__name__).info("thread-rid %s", tag))
    t.start()
    t.join()
    return "ok"
