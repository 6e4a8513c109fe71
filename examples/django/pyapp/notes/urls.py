from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("notes/<int:pk>/", views.note_detail, name="note_detail"),
    # GET is a form that Go renders (examples/django/csrf.go); the POST,
    # with Go's CSRF token, comes here.
    path("feedback/", views.feedback, name="feedback"),
    # The API: main.go requires a bearer token for everything under api/
    # and passes the user as REMOTE_USER.
    path("api/whoami/", views.api_whoami, name="api_whoami"),  # GET moved to Go
    path("api/notes/", views.api_notes, name="api_notes"),
    path("api/meta/", views.api_meta, name="api_meta"),  # GET being migrated: Go's runs in shadow
]
