"""A Flask app whose paths a Go router guards (escapedroute_test.go):
every view says which path it served, so a request that got past the
guard shows."""

from flask import Flask, request

app = Flask(__name__)


@app.route("/secret", methods=["GET", "POST"])
def secret():
    return "python secret " + request.environ["PATH_INFO"]


@app.get("/admin/<path:rest>")
def admin(rest):
    return "python admin " + request.environ["PATH_INFO"]


@app.get("/public/<path:rest>")
def public(rest):
    return "python public " + request.environ["PATH_INFO"]
