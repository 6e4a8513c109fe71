"""A Falcon app for the inventory tests."""

import falcon


class User:
    def on_get(self, req, resp, name):
        resp.media = {"name": name}


class Item:
    def on_get(self, req, resp, n):
        resp.media = {"n": n}


app = falcon.App()
app.add_route("/users/{name}", User())
app.add_route("/items/{n:int}", Item())
