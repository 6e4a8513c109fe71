"""A Pyramid app for the route-map tests: every view answers its route's
pattern and the values Pyramid routed it with, as JSON."""

from pyramid.config import Configurator


def echo(request):
    params = {}
    for k, v in request.matchdict.items():
        params[k] = "/".join(v) if isinstance(v, tuple) else str(v)
    return {"rule": request.matched_route.pattern, "params": params}


def make():
    with Configurator() as config:
        routes = [
            ("index", "/", {}, {}),
            ("item", "/items/{item_id:[0-9]+}", {"request_method": "GET"}, {}),
            ("user", "/users/{name}/", {}, {"request_method": ("GET", "POST")}),
            ("files", "/files/*rest", {}, {}),
            ("tree", "/tree/{kind}/*path", {}, {}),
            ("page", "page/{slug}.html", {}, {}),
            ("legacy", "/legacy/:slug", {}, {}),
            ("year", "/y/{year:[0-9]{4}}", {}, {"request_method": "POST"}),
            ("digits", "/d/{n:\\d+}", {}, {}),
            ("rest", "/r/{p:.+}", {}, {}),
            ("mid", "/m/{p:.+}/x", {}, {}),
        ]
        for name, pattern, route_kw, view_kw in routes:
            config.add_route(name, pattern, **route_kw)
            config.add_view(echo, route_name=name, renderer="json", **view_kw)
        config.add_route("nowhere", "/nowhere")  # no view: Pyramid answers 404
        config.add_route("cdn", "https://cdn.example/{p}", static=True)  # URL generation only
        return config.make_wsgi_app()


app = make()
