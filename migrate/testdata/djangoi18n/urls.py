from django.conf.urls.i18n import i18n_patterns
from django.http import JsonResponse
from django.urls import path


def lang(request):
    # A path without a language prefix: LocaleMiddleware adds
    # "Vary: Accept-Language" and Content-Language.
    return JsonResponse({"ok": True})


def me(request):
    # Under i18n_patterns(): Content-Language, no Vary (the language is
    # the path's).
    return JsonResponse({"ok": True})


urlpatterns = [path("api/lang/", lang, name="lang")]
urlpatterns += i18n_patterns(path("shop/me/", me, name="me"))
