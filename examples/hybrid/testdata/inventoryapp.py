"""A Flask app for TestInventoryPages: the paths of the hybrid example's Go
routes under /api, and one route Go does not serve."""
from flask import Flask

app = Flask(__name__)


@app.route("/api/users/<id>", methods=["GET", "POST"])
def user(id):
    return {"id": id}


@app.get("/api/hello/<name>")
def hello(name):
    return {"message": f"Hello, {name}!"}


@app.get("/api/health")
def health():
    return {"status": "ok"}


@app.get("/about")
def about():
    return "about"
