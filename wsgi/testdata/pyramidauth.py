"""A Pyramid app with a security policy and a signed cookie session, for
graft:pyramid (wsgi/identity_pyramid_test.go). GRAFT_TEST_POLICY picks the
policy:

  session     a Pyramid 2 ISecurityPolicy with SessionAuthenticationHelper
              (the user id in the session)
  authtkt     a Pyramid 2 ISecurityPolicy with AuthTktCookieHelper
              (include_ip: the ticket is bound to the client's address)
  legacy      Pyramid 1's AuthTktAuthenticationPolicy and
              ACLAuthorizationPolicy, through Pyramid 2's legacy bridge
  basic       Pyramid 1's BasicAuthAuthenticationPolicy (Authorization)
  remoteuser  Pyramid 1's RemoteUserAuthenticationPolicy (REMOTE_USER)

A user is known while in USERS (a ticket or session of another user id
is nobody). POST /login (user=NAME) remembers the user and
puts a cart in the session; POST /logout forgets it and invalidates the
session; GET /py/whoami is Python's own answer, for comparison.
"""
import os

from pyramid.authentication import (AuthTktAuthenticationPolicy, AuthTktCookieHelper,
                                    BasicAuthAuthenticationPolicy, RemoteUserAuthenticationPolicy,
                                    SessionAuthenticationHelper)
from pyramid.authorization import ACLAuthorizationPolicy
from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPFound
from pyramid.security import forget, remember
from pyramid.session import SignedCookieSessionFactory

USERS = {"amy", "bob"}


class SessionPolicy:
    def __init__(self):
        self.helper = SessionAuthenticationHelper()

    def identity(self, request):
        userid = self.helper.authenticated_userid(request)
        return userid if userid in USERS else None

    def authenticated_userid(self, request):
        return self.identity(request)

    def permits(self, request, context, permission):
        return self.identity(request) is not None

    def remember(self, request, userid, **kw):
        return self.helper.remember(request, userid, **kw)

    def forget(self, request, **kw):
        return self.helper.forget(request, **kw)


class AuthTktPolicy(SessionPolicy):
    def __init__(self):
        self.helper = AuthTktCookieHelper("tkt-secret", include_ip=True, hashalg="sha512")

    def identity(self, request):
        found = self.helper.identify(request)
        if found is None or found["userid"] not in USERS:
            return None
        return found["userid"]


def check(username, password, request):
    return [] if username in USERS and password == "pw-" + username else None


def login(request):
    user = request.POST["user"]
    headers = remember(request, user)
    request.session["cart"] = {"apples": 2}
    return HTTPFound(location="/", headers=headers)


def logout(request):
    headers = forget(request)
    request.session.invalidate()
    return HTTPFound(location="/", headers=headers)


def whoami(request):
    return {"user_id": request.authenticated_userid}


def make():
    policy = os.environ.get("GRAFT_TEST_POLICY", "session")
    with Configurator() as config:
        config.set_session_factory(SignedCookieSessionFactory("s3cret"))
        if policy == "session":
            config.set_security_policy(SessionPolicy())
        elif policy == "authtkt":
            config.set_security_policy(AuthTktPolicy())
        elif policy == "legacy":
            config.set_authentication_policy(AuthTktAuthenticationPolicy(
                "tkt-secret", hashalg="sha512", callback=lambda userid, request: [] if userid in USERS else None))
            config.set_authorization_policy(ACLAuthorizationPolicy())
        elif policy == "basic":
            config.set_authentication_policy(BasicAuthAuthenticationPolicy(check))
            config.set_authorization_policy(ACLAuthorizationPolicy())
        elif policy == "remoteuser":
            config.set_authentication_policy(RemoteUserAuthenticationPolicy(
                callback=lambda userid, request: [] if userid in USERS else None))
            config.set_authorization_policy(ACLAuthorizationPolicy())
        else:
            raise ValueError("GRAFT_TEST_POLICY %r" % policy)
        config.add_route("login", "/login")
        config.add_view(login, route_name="login", request_method="POST")
        config.add_route("logout", "/logout")
        config.add_view(logout, route_name="logout", request_method="POST")
        config.add_route("whoami", "/py/whoami")
        config.add_view(whoami, route_name="whoami", request_method="GET", renderer="json")
        return config.make_wsgi_app()


app = make()
