"""The "shop": a small Flask app that a team is moving to Go, route by route.

Go (examples/flask/main.go) already serves GET /api/products and
GET /api/products/<id> natively, from the same products.json and with the
same JSON; this app keeps serving everything else: the HTML pages, the
session cart, the form, and POST /api/products/<id>. The Python versions of
the two migrated routes stay here: they still answer if Go's are rolled back
(main.go -go=false).

Graft mounts the app under a prefix (/shop by default) and passes it as
SCRIPT_NAME, so every url_for link carries the prefix with no configuration
here. The request id Go gave the request is environ["graft.request_id"].

The session is Flask's signed cookie: SHOP_SECRET_KEY must be the same in
every worker, so main.go sets it for them.
"""

import json
import os

from flask import Flask, abort, flash, jsonify, redirect, render_template, request, session, url_for

HERE = os.path.dirname(os.path.abspath(__file__))


def load_products():
    """Reads the catalog, the data Go and Python share (think: the database)."""
    with open(os.path.join(HERE, "products.json"), encoding="utf-8") as f:
        return {p["id"]: p for p in json.load(f)}


def product_json(p):
    """The JSON of one product. main.go's productJSON must match it key for key."""
    return {
        "id": p["id"],
        "name": p["name"],
        "price_cents": p["price_cents"],
        "in_stock": p["stock"] > 0,
        "url": url_for("product", pid=p["id"]),
        "api_url": url_for("api_product", pid=p["id"]),
    }


def create_app():
    app = Flask(__name__)
    secret = os.environ.get("SHOP_SECRET_KEY")
    if not secret:
        raise RuntimeError("set SHOP_SECRET_KEY (the same value in every worker) to sign the session cookie")
    app.config["SECRET_KEY"] = secret
    products = load_products()

    def cart():
        return {int(k): v for k, v in session.get("cart", {}).items()}

    def add_to_cart(pid, quantity):
        if pid not in products:
            abort(404)
        if quantity < 1 or quantity > 99:
            abort(400)
        c = session.get("cart", {})
        c[str(pid)] = c.get(str(pid), 0) + quantity
        session["cart"] = c
        return sum(c.values())

    @app.context_processor
    def common():
        return {
            "request_id": request.environ.get("graft.request_id", ""),
            "cart_count": sum(cart().values()),
            # Set by the login that moved to Go (examples/flask/session.go),
            # in this app's own session cookie.
            "user": session.get("user"),
        }

    @app.after_request
    def served_by(resp):
        resp.headers["X-Served-By"] = "python"
        return resp

    @app.get("/")
    def index():
        return render_template("index.html", products=products.values())

    @app.get("/products/<int:pid>")
    def product(pid):
        p = products.get(pid) or abort(404)
        return render_template("product.html", p=p)

    @app.get("/cart")
    def show_cart():
        items = [(products[pid], n) for pid, n in cart().items() if pid in products]
        total = sum(p["price_cents"] * n for p, n in items)
        return render_template("cart.html", items=items, total=total)

    @app.post("/cart")
    def cart_add():
        try:
            pid, quantity = int(request.form["product"]), int(request.form.get("quantity", "1"))
        except (KeyError, ValueError):
            abort(400)
        add_to_cart(pid, quantity)
        flash(f"Added {quantity} × {products[pid]['name']} to your cart.")
        return redirect(url_for("show_cart"))

    @app.get("/account")
    def account():
        # Go serves the login form and POST /login and /logout now; this
        # page only reads what Go put in the session.
        return render_template("account.html")

    # The JSON API. Go serves the two GET routes now; these stay as the
    # rollback path.
    @app.get("/api/products")
    def api_products():
        items = [product_json(p) for p in products.values()]
        return jsonify(count=len(items), products=items)

    @app.get("/api/products/<int:pid>")
    def api_product(pid):
        p = products.get(pid)
        if p is None:
            return jsonify(error="no such product"), 404
        return jsonify(product_json(p))

    # Being migrated: Go's port (main.go's migratingRoutes) runs in the
    # shadow stage, compared against this one. Products sorted by name.
    @app.get("/api/search")
    def api_search():
        q = request.args.get("q", "")
        found = [product_json(p) for p in sorted(products.values(), key=lambda p: p["name"])
                 if q and q.casefold() in p["name"].casefold()]
        return jsonify(query=q, count=len(found), products=found)

    # Not migrated: Go serves only GET on this path, so POST still comes here.
    @app.post("/api/products/<int:pid>")
    def api_add_to_cart(pid):
        body = request.get_json(silent=True) or {}
        quantity = body.get("quantity", 1)
        if not isinstance(quantity, int):
            return jsonify(error="quantity must be an integer"), 400
        count = add_to_cart(pid, quantity)
        return jsonify(cart_count=count, cart_url=url_for("show_cart"))

    @app.errorhandler(404)
    def not_found(e):
        if request.path.startswith("/api/"):
            return jsonify(error="not found"), 404
        return render_template("base.html", title="Not found", message="No such page."), 404

    return app
