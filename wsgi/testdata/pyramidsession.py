"""A Pyramid app whose login view keeps the user in Pyramid's signed
cookie session, and the identity hook docs/migration.md shows for it
("Pyramid and Bottle"): graft ships no hook for Pyramid."""

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPFound
from pyramid.request import Request
from pyramid.session import SignedCookieSessionFactory


def login(request):
    request.session["user"] = request.POST["user"]
    return HTTPFound(location="/")


def logout(request):
    request.session.invalidate()
    return HTTPFound(location="/")


def make():
    with Configurator() as config:
        config.set_session_factory(SignedCookieSessionFactory("s3cret"))
        config.add_route("login", "/login")
        config.add_view(login, route_name="login", request_method="POST")
        config.add_route("logout", "/logout")
        config.add_view(logout, route_name="logout", request_method="POST")
        return config.make_wsgi_app()


app = make()


def whoami(environ):
    """graft's IdentityHook: the session's user, read as a view reads it."""
    request = Request(environ)
    request.registry = app.registry  # the session factory, the secret
    user = request.session.get("user")
    return {"user": user} if user else None
