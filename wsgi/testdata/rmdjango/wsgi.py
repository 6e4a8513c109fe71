import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rmdjango.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()


def _whitenoise(app):
    try:
        from whitenoise import WhiteNoise
    except ImportError:
        return None
    return WhiteNoise(app)


whitenoised = _whitenoise(application)
