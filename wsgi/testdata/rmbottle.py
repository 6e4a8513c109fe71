"""A Bottle app for the route-map tests: every view answers its rule and
the values Bottle routed it with, as JSON."""

import json

import bottle

app = bottle.Bottle()
shop = bottle.Bottle()


def answer(**kw):
    bottle.response.content_type = "application/json"
    return json.dumps({"rule": bottle.request.route.rule, "params": {k: str(v) for k, v in kw.items()}})


@app.route("/")
def index():
    return answer()


@app.get("/items/<item_id:int>", name="item")
def item(item_id):
    return answer(item_id=item_id)


@app.route("/users/<name>/", method=["GET", "POST"])
def user(name):
    return answer(name=name)


# One rule, two methods, two callbacks (the usual form and its post): two
# routes, one per callback, as Flask lists one rule per endpoint.
@app.get("/login", name="login_form")
def login_form():
    return answer()


@app.post("/login", name="login")
def login():
    return answer()


# One callback for two methods in two decorators: one route.
@app.get("/note/<n:int>")
@app.put("/note/<n:int>")
def note(n):
    return answer(n=n)


@app.route("/price/<f:float>")
def price(f):
    return answer(f=f)


@app.route("/files/<p:path>")
def files(p):
    return answer(p=p)


@app.route("/code/<code:re:[a-z]{2}>")
def code(code):
    return answer(code=code)


@app.route("/old/:slug#[a-z-]+#")
def old(slug):
    return answer(slug=slug)


@app.route("/any", method="ANY")
def anything():
    return answer()


@app.route("/dot/<name>.json")
def dot(name):
    return answer(name=name)


@app.route("/leaf/<p:path>/x")
def leaf(p):
    return answer(p=p)


@app.route("/digits/<n:re:\\d+>")
def digits(n):
    return answer(n=n)


def color_filter(config):
    return r"[a-z]+", lambda s: s, lambda s: s


app.router.add_filter("color", color_filter)


@app.route("/paint/<c:color>")
def paint(c):
    return answer(c=c)


@shop.route("/cart/<line:int>")
def cart_line(line):
    return answer(line=line)


app.mount("/shop/", shop)
