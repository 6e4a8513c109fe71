"""A Flask app that reports how its mount prefix reached it, for the
fallback package's tests against a real gunicorn.

app      reads SCRIPT_NAME as the server set it (gunicorn's SCRIPT_NAME
         request header).
proxyfix is the same app behind werkzeug's ProxyFix(x_prefix=1), which
         takes SCRIPT_NAME from X-Forwarded-Prefix.
"""

from flask import Flask, jsonify, request, url_for
from werkzeug.middleware.proxy_fix import ProxyFix

app = Flask(__name__)


@app.route("/", defaults={"rest": ""})
@app.route("/<path:rest>", methods=["GET", "POST"])
def echo(rest):
    env = request.environ
    return jsonify(
        script_name=env.get("SCRIPT_NAME", ""),
        path_info=env.get("PATH_INFO", ""),
        raw_uri=env.get("RAW_URI", ""),
        rest=rest,
        url_for=url_for("echo", rest="a b/c"),
        forwarded_prefix=env.get("HTTP_X_FORWARDED_PREFIX", ""),
        path_info_header=env.get("HTTP_PATH_INFO", ""),
    )


proxyfix = ProxyFix(app, x_for=0, x_proto=0, x_host=0, x_port=0, x_prefix=1)
