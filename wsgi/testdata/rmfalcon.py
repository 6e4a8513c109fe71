"""A Falcon app for the route-map tests: every responder answers its URI
template and the values Falcon routed it with, as JSON."""

import falcon


class Echo:
    def on_get(self, req, resp, **kw):
        resp.media = {"rule": req.uri_template, "params": {k: str(v) for k, v in kw.items()}}


class Item(Echo):
    def on_put(self, req, resp, **kw):
        resp.media = {}


class Index:
    def on_get(self, req, resp):
        resp.media = {"rule": req.uri_template, "params": {}}

    def on_post(self, req, resp):
        resp.media = {}


app = falcon.App()
app.add_route("/", Index())
app.add_route("/items/{item_id:int}", Item())
app.add_route("/users/{name}", Echo())
app.add_route("/users/{name}/posts", Echo())
app.add_route("/v{version}/ping", Echo())
app.add_route("/dot/{name}.json", Echo())
app.add_route("/pair/{a}.{b}", Echo())
app.add_route("/u/{u:uuid}", Echo())
app.add_route("/page/{n:int(min=1)}", Echo())
app.add_route("/when/{d:dt}", Echo())
