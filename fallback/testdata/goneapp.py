# A Flask app whose view runs until its client has surely left: for
# TestAccessLogClientGone in fallback/gone_test.go.
import time

from flask import Flask

app = Flask(__name__)


@app.route("/slow")
def slow():
    time.sleep(3)
    return "done\n"
