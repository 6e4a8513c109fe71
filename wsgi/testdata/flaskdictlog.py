"""A Flask app with the logging setup of Flask's documentation ("Basic
Configuration"): dictConfig with a "root" entry whose handler writes to
flask.logging.wsgi_errors_stream, the request's wsgi.errors while one is
served (TestFlaskDocsLogging).

GET /log?tag=T logs "flaskdict-marker T" with app.logger and answers
"logged T".
"""

from logging.config import dictConfig

dictConfig(
    {
        "version": 1,
        "formatters": {"default": {"format": "[%(asctime)s] %(levelname)s in %(module)s: %(message)s"}},
        "handlers": {
            "wsgi": {
                "class": "logging.StreamHandler",
                "stream": "ext://flask.logging.wsgi_errors_stream",
                "formatter": "default",
            }
        },
        "root": {"level": "INFO", "handlers": ["wsgi"]},
    }
)

from flask import Flask, request  # noqa: E402

app = Flask(__name__)


@app.get("/log")
def log():
    tag = request.args["tag"]
    app.logger.warning("flaskdict-marker %s", tag)
    return "logged " + tag
