"""A Bottle app for the migration inventory tests: a tag route whose
regex filter is \d+; a rule whose GET and POST are one function, and one
whose GET and POST are two."""

import bottle

app = bottle.Bottle()


@app.get(r"/api/tags/<tag:re:\d+>", name="tag")
def tag(tag):
    return {"id": tag, "served_by": "python"}


# One function for GET and POST: one route of the route map, which Go
# serves when it serves both methods.
@app.route("/api/notes/<n:int>", method=["GET", "POST"], name="note")
def note(n):
    return {"id": n, "served_by": "python"}


# Two functions for GET and POST of one rule: two routes, each with its own
# callback and name, and its own status.
@app.get("/login", name="login_form")
def login_form():
    return {"form": True, "served_by": "python"}


@app.post("/login", name="login")
def login():
    return {"form": False, "served_by": "python"}
