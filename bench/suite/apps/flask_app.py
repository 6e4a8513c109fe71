"""The Flask app of graft's benchmark suite: a JSON view, and the routes
examples/hybrid also serves in Go (for the mixed load)."""
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.route("/")
def index():
    return "Hello world!\n"


@app.route("/json/<int:n>")
def js(n):
    return jsonify(n=n, args=request.args.to_dict(), ua=request.headers.get("User-Agent"))


@app.route("/api/users/<uid>")
def user(uid):
    return jsonify(id=uid, served_by="python")
