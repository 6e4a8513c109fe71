"""A Flask app the tests hand to the container as Config.AppFS (an embedded
tree): it renders a template and reads a data file by path, as real apps
do, and reports where it runs from and what it may write."""
import json
import os

from flask import Flask, jsonify, render_template

HERE = os.path.dirname(os.path.abspath(__file__))

with open(os.path.join(HERE, "data", "items.json")) as f:
    ITEMS = json.load(f)

app = Flask(__name__)


@app.route("/")
def page():
    return render_template("page.html", items=ITEMS)


@app.route("/where")
def where():
    def can_create(path):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            return False
        os.close(fd)
        os.unlink(path)
        return True

    return jsonify(
        here=HERE,
        cwd=os.getcwd(),
        pycache_prefix=os.environ.get("PYTHONPYCACHEPREFIX", ""),
        can_create=can_create(os.path.join(HERE, "new.txt")),
    )
