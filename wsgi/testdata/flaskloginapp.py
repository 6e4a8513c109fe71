"""A Flask app with flask-login for the shared-identity tests (graft:flask):
users in an in-memory dict, a login with "remember me", a logout, and a
view that says who flask-login finds, to compare with Go's Identity.

GRAFT_TEST_PUSH_APP_CONTEXT=1 pushes an app context at import and leaves
it pushed, as scripts that call db.create_all() at module level do: Flask
then reuses it (and its g, where flask-login keeps the user) for every
request of the thread that imported the app; the app's own requests
remove the user they loaded from it (after_request).

GRAFT_TEST_SESSION_PROTECTION sets flask-login's SESSION_PROTECTION
("basic", flask-login's default, "strong", or "none" for None), which binds a session to the client's address and
User-Agent. GRAFT_TEST_REQUEST_LOADER=1 adds a request_loader that logs in
the user of an "X-Api-Key: key-ID" header, else of an api_key=key-ID query
argument, else of an api_token=key-ID cookie; =body one that reads a form
field (the request body).

`plain` is another Flask app of the same process that imports flask-login
but has no LoginManager: graft:flask reads its session only."""

import os

from flask import Flask, g, jsonify, request, session
from flask_login import LoginManager, UserMixin, current_user, login_fresh, login_user, logout_user

app = Flask(__name__)
app.secret_key = "graft-flasklogin-test-secret"
login_manager = LoginManager(app)
if os.environ.get("GRAFT_TEST_SESSION_PROTECTION"):
    mode = os.environ["GRAFT_TEST_SESSION_PROTECTION"]
    app.config["SESSION_PROTECTION"] = None if mode == "none" else mode


class User(UserMixin):
    def __init__(self, user_id, name):
        self.id = user_id
        self.name = name


USERS = {}


@login_manager.user_loader
def load_user(user_id):
    return USERS.get(user_id)  # None for a deleted user: anonymous


if os.environ.get("GRAFT_TEST_REQUEST_LOADER") == "1":

    @login_manager.request_loader
    def load_user_from_request(req):
        # As API apps do: a header, else a query argument, else a cookie.
        key = req.headers.get("X-Api-Key") or req.args.get("api_key") or req.cookies.get("api_token") or ""
        return USERS.get(key[len("key-"):]) if key.startswith("key-") else None

elif os.environ.get("GRAFT_TEST_REQUEST_LOADER") == "body":

    @login_manager.request_loader
    def load_user_from_body(req):
        key = req.form.get("api_key", "")
        return USERS.get(key[len("key-"):]) if key.startswith("key-") else None


@app.post("/users")
def add_user():
    USERS[request.form["id"]] = User(request.form["id"], request.form["name"])
    return "added"


@app.post("/users/delete")
def delete_user():
    USERS.pop(request.form["id"], None)
    return "deleted"


@app.post("/login")
def login():
    user = USERS[request.form["id"]]
    login_user(user, remember=request.form.get("remember") == "1")
    return "logged in"


@app.post("/logout")
def logout():
    logout_user()
    return "logged out"


@app.post("/cart")
def cart():
    session["cart"] = request.form["item"]
    return "added to cart"


@app.get("/me")
def me():
    """Who flask-login finds for this request, as graft:flask's user_id,
    and whether the login is fresh, as graft:flask's fresh."""
    if current_user.is_authenticated:
        return jsonify(user_id=current_user.get_id(), fresh=login_fresh())
    return jsonify(user_id=None, fresh=login_fresh())


if os.environ.get("GRAFT_TEST_PUSH_APP_CONTEXT") == "1":
    app.app_context().push()

    @app.after_request
    def forget_user(response):
        # The app's own requests leave no user in the pushed context's g
        # (they would: login_user puts one there), so that the test sees
        # what graft's lookups leave (after_request does not run for them).
        g.pop("_login_user", None)
        return response


plain = Flask("plain")
plain.secret_key = "graft-flasklogin-plain-secret"


@plain.post("/login")
def plain_login():
    session["_user_id"] = request.form["id"]
    return "logged in"


@plain.post("/cart")
def plain_cart():
    session["cart"] = request.form["item"]
    return "added to cart"


def whoami_hook(environ):
    """An identity hook of the app's own (Config.IdentityHook
    "flaskloginapp:whoami_hook"): the user flask-login finds, which it
    reads from the session cookie or the remember cookie."""
    with app.request_context(environ):
        if current_user.is_authenticated:
            return {"user_id": current_user.get_id()}
        return None
