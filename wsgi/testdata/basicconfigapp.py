"""A Flask app that sets up logging the most common way, with
logging.basicConfig at import, given as JSON in $GRAFT_BASICCONFIG
("stream": "stdout" stands for sys.stdout). GET / logs "request-marker" with
app.logger.info (and the import logged "import-marker" at INFO)."""

import json
import logging
import os
import sys

from flask import Flask

kwargs = json.loads(os.environ["GRAFT_BASICCONFIG"])
if kwargs.get("stream") == "stdout":
    kwargs["stream"] = sys.stdout
logging.basicConfig(**kwargs)
logging.getLogger("basicconfigapp").info("import-marker")

app = Flask(__name__)


@app.get("/")
def index():
    app.logger.info("request-marker")
    return "logged"
