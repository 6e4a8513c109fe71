"""The Python side of graft's migrate tests (migrate/*_test.go).

Served as "flaskmig:app". Each view is the "old implementation" of a Go
route the tests register, answering the way Flask does (jsonify sorts keys,
floats keep their ".0"), so that the comparison meets real Python output. static/ is served by
Flask's own static view (werkzeug's send_file), for staticshadow_test.go.
"""

import base64
import random
import time
import uuid

from flask import Flask, jsonify, redirect, request, session, url_for

app = Flask(__name__)
app.config.update(PROPAGATE_EXCEPTIONS=True, SECRET_KEY="migrate-tests")


@app.get("/api/order/<int:user_id>")
@app.get("/api/order2/<int:user_id>")
def order(user_id):
    # jsonify sorts the keys; Go writes them in struct order.
    return jsonify(id=user_id, name="Ada", score=1.0, tags=["a", "b"], active=True)


@app.get("/api/diff/<int:user_id>")
def diff(user_id):
    return jsonify(id=user_id, name="Ada Lovelace", email="ada@example.com")


@app.get("/api/users/<int:user_id>")
def users(user_id):
    # generated_at differs from one call to the next: noise to be learned.
    return jsonify(id=user_id, name="Ada", generated_at=time.time())


@app.route("/api/items", methods=["GET", "POST"])
def items():
    return jsonify(ok=True, method=request.method)


@app.get("/api/side")
def side():
    return "python\n"


@app.get("/api/page")
def page():
    return "<html>\r\n<body>Hello   \r\n</body>\r\n</html>\r\n\r\n", 200, {"Content-Type": "text/html; charset=utf-8"}


@app.get("/api/shadow")
def shadow():
    return jsonify(shadow=request.environ.get("graft.shadow", ""), request_id=request.headers.get("X-Request-Id", ""))


@app.route("/api/moved/<int:user_id>", methods=["GET", "POST"])
def moved(user_id):
    # werkzeug's redirect: a 302 with a small HTML page pointing to Location,
    # typed text/html for every method (a form's POST-redirect-GET too).
    return redirect(url_for("users", user_id=user_id))


@app.get("/api/oldmoved/<int:user_id>")
def oldmoved(user_id):
    # As werkzeug before 2.1 answered every redirect: Location made
    # absolute from the request's scheme and Host.
    resp = redirect(url_for("users", user_id=user_id))
    resp.autocorrect_location_header = True
    return resp


@app.get("/api/visit")
def visit():
    # Two cookies: a visitor id for a year, and a deleted one.
    resp = jsonify(ok=True)
    resp.set_cookie("uid", "py-%d" % time.time_ns(), max_age=365 * 86400, httponly=True, samesite="Lax", secure=True)
    resp.delete_cookie("old")
    return resp


@app.get("/api/login")
def login():
    # A permanent session: Flask's cookie carries an Expires date 31 days
    # on (PERMANENT_SESSION_LIFETIME), no Max-Age.
    session.permanent = True
    session["user"] = 1
    return jsonify(ok=True)


@app.get("/<any(en, fr):lang>/hello")
def hello(lang):
    # One rule for two languages (werkzeug's any converter), for
    # alternation_test.go: Go may port it one language at a time.
    return jsonify(lang=lang)


@app.get("/api/whoami")
def whoami():
    # Reads the session: Flask adds "Vary: Cookie" to the answer, which
    # depends on who asks (vary_test.go).
    return jsonify(user=session.get("user"))


# The JSON {"items": [{"id": 0, "name": "item 0"}, ... "item 3"}]} as
# flask-compress sends it to a client that accepts br or zstd (this Python
# may have neither module: the bytes were made by Go's encoders).
COMPRESSED = {
    "br": "G34AAETnlur3TABopOoMbho1FHdoxrl2r5pAnOYDgMEGXEGAi5zPC6NlY/huNtzAt+7B+4FThjA0MDWxVtQU",
    "zstd": "KLUv/QQADQIA1AJ7Iml0ZW1zIjogW3siaWQiOiAwLCAibmFtZSI6ICAwIn0sIDExMjIzMyJ9XX0HAAAJMA4gBgwBCl2gsvTtdALoahZh",
}


@app.get("/api/compressed/<coding>")
def compressed(coding):
    return base64.b64decode(COMPRESSED[coding]), 200, {
        "Content-Type": "application/json", "Content-Encoding": coding, "Vary": "Accept-Encoding"}


@app.get("/api/slow")
def slow():
    # Holds a worker for a while: a shadow run still under way at shutdown.
    time.sleep(float(request.args.get("s", "0.5")))
    return "python\n"


@app.get("/files/<path:name>")
def files(name):
    # A path converter: one character at least, so /files/ is Flask's 404.
    return jsonify(name=name)


FEED = [{"id": i, "name": "item %d" % i, "price_cents": 100 * i} for i in range(1, 7)]


@app.get("/api/feed")
@app.get("/api/feedbad")
def feed():
    # Noise of three kinds (unorderedshadow_test.go): a timestamp, an id
    # made per request, and the items in an order of their own each time
    # (a set, a query without ORDER BY).
    return jsonify(generated_at=time.time(), request_id=uuid.uuid4().hex, items=random.sample(FEED, len(FEED)))


@app.get("/api/orders")
@app.get("/api/ordersbad")
def orders():
    # Lists in an order of their own whose elements carry noise of their
    # own (a timestamp and an id per order), and lists in an order of
    # their own inside them (each order's lines), as unorderedshadow_test.go
    # wants them.
    out = []
    for o in random.sample(FEED, len(FEED)):
        lines = [{"sku": "%s-%d" % (o["name"], n), "qty": n} for n in range(1, 4)]
        out.append(dict(o, seen_at=time.time(), trace=uuid.uuid4().hex, lines=random.sample(lines, len(lines))))
    return jsonify(orders=out)
