"""A Flask app reporting the scheme it believes the request has, for the
fallback package's test of the scheme headers against a real gunicorn:
request.scheme (wsgi.url_scheme) and an absolute URL built with
url_for(_external=True).
"""

from flask import Flask, jsonify, request, url_for

app = Flask(__name__)


@app.route("/where/<name>")
def where(name):
    return jsonify(
        scheme=request.scheme,
        external=url_for("where", name=name, _external=True),
    )
