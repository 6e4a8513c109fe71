"""A Pyramid app for the migration inventory tests: an item route written
as Pyramid's documentation writes it, {id:\d+}."""

from pyramid.config import Configurator


def item(request):
    return {"id": request.matchdict["id"], "served_by": "python"}


def make():
    with Configurator() as config:
        config.add_route("item", r"/api/items/{id:\d+}")
        config.add_view(item, route_name="item", renderer="json", request_method="GET")
        return config.make_wsgi_app()


app = make()
