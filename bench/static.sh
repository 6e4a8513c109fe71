#!/bin/bash
# Static files: graft's fallback.Static (examples/wsgiserve -static) against Django + WhiteNoise under
# gunicorn, on the same files: Django's admin assets after collectstatic with WhiteNoise's
# CompressedManifestStaticFilesStorage (hashed names, .gz variants). Each request asks for gzip, as
# browsers do, so both servers send the precompressed variant. Rounds alternate the servers so that
# machine drift hits both alike; quote the ratios, not the req/s.
#
# usage, from the project root:  bench/static.sh [ROUNDS] [SECONDS] [GUNICORN_WORKERS] [CONNECTIONS]
# needs (Debian): wrk curl gunicorn python3-django python3-whitenoise
# env: PYTHON (default /usr/bin/python3, the interpreter Debian's packages install into);
#      GUNICORN_ARGS (default "-k gthread --threads 4": keep-alive, like graft; "-k sync" for the
#      classic worker, which closes every connection)
set -u
rounds=${1:-3}; secs=${2:-5}; workers=${3:-2}; conns=${4:-32}
py=${PYTHON:-/usr/bin/python3}
gargs=${GUNICORN_ARGS:--k gthread --threads 4}
for tool in wrk curl; do command -v $tool >/dev/null || { echo "missing $tool: apt-get install -y wrk curl"; exit 2; }; done
"$py" -c "import django, whitenoise, gunicorn" 2>/dev/null ||
  { echo "missing Django, WhiteNoise or gunicorn for $py: apt-get install -y python3-django python3-whitenoise gunicorn"; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=$work/wsgiserve
go build -o "$bin" ./examples/wsgiserve || { echo "build of ./examples/wsgiserve failed"; exit 1; }

# A Django project whose only job is WhiteNoise, and the files it serves.
cat >"$work/wnsite.py" <<'PY'
import os
import django
from django.conf import settings

settings.configure(
    DEBUG=False, SECRET_KEY="bench", ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__,
    INSTALLED_APPS=["django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
                    "django.contrib.messages", "django.contrib.sessions", "django.contrib.staticfiles"],
    MIDDLEWARE=["whitenoise.middleware.WhiteNoiseMiddleware"],
    STATIC_URL="/static/", STATIC_ROOT=os.environ["BENCH_STATIC_ROOT"],
    STATICFILES_STORAGE="whitenoise.storage.CompressedManifestStaticFilesStorage",
)
django.setup()
urlpatterns = []
from django.core.wsgi import get_wsgi_application  # noqa: E402
app = get_wsgi_application()
PY
cat >"$work/hello.py" <<'PY'
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"python\n"]
PY
export BENCH_STATIC_ROOT=$work/static
mkdir -p "$BENCH_STATIC_ROOT"
(cd "$work" && DJANGO_SETTINGS_MODULE= "$py" -c "import wnsite; from django.core.management import call_command; call_command('collectstatic', interactive=False, verbosity=0)") ||
  { echo "collectstatic failed"; exit 1; }
small=$(cd "$work/static" && ls admin/css/base.*.css | grep -E '\.[0-9a-f]{12}\.css$' | head -1)
large=$(cd "$work/static" && ls admin/js/vendor/jquery/jquery.*.js | grep -E 'jquery\.[0-9a-f]{12}\.js$' | head -1)
[ -n "$small" ] && [ -n "$large" ] || { echo "hashed files not found under $work/static"; exit 1; }
echo "files: /static/$small ($(stat -c%s "$work/static/$small.gz") B gzipped), /static/$large ($(stat -c%s "$work/static/$large.gz") B gzipped)" >&2

port=$((20000 + RANDOM % 2000))
start() { # name cmd... ; sets pid, url
  local name=$1; shift
  port=$((port + 1))
  local cmd=("${@//PORT/$port}")
  (cd "$work" && exec setsid "${cmd[@]}") >"$work/$name.log" 2>&1 &
  pid=$!
  url=http://127.0.0.1:$port
  for _ in $(seq 150); do curl -sf -o /dev/null "$url/static/$small" && return 0; sleep 0.1; done
  echo "$name did not start:"; cat "$work/$name.log"; exit 1
}
stop() { kill -TERM -- -"$pid" 2>/dev/null; sleep 0.5; kill -KILL -- -"$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
measure() { # path; prints req/s, logs p99
  local out rps p99 errs
  wrk -t2 -c"$conns" -d1s -H 'Accept-Encoding: gzip' "$url$1" >/dev/null 2>&1
  out=$(wrk -t2 -c"$conns" -d"${secs}"s --latency -H 'Accept-Encoding: gzip' "$url$1" 2>/dev/null)
  rps=$(awk '/Requests\/sec/{print $2}' <<<"$out"); p99=$(awk '$1=="99%"{print $2}' <<<"$out")
  errs=$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr -s ' ' | tr '\n' ' ')
  echo "    $1: ${rps:-0} req/s, p99 ${p99:-?} ${errs}" >&2
  echo "${rps:-0}"
}
# Both must send the same bytes and say so with the same encoding.
check() {
  local h; h=$(curl -s -D - -o "$work/body" -H 'Accept-Encoding: gzip' "$url/static/$large")
  grep -qi '^content-encoding: gzip' <<<"$h" || { echo "$1 did not send the gzip variant:"; echo "$h"; exit 1; }
  cmp -s "$work/body" "$work/static/$large.gz" || { echo "$1 sent other bytes than $large.gz"; exit 1; }
}

declare -A tot
for r in $(seq "$rounds"); do
  echo "round $r (wrk -t2 -c$conns -d${secs}s, Accept-Encoding: gzip)" >&2
  for s in graft whitenoise; do
    echo "  $s" >&2
    case $s in
      graft) start graft "$bin" -bind 127.0.0.1:PORT -workers 1 -python "$py" -chdir "$work" -static "/static/=$work/static" hello:app;;
      whitenoise) start whitenoise "$py" -m gunicorn -w "$workers" $gargs -b 127.0.0.1:PORT wnsite:app;;
    esac
    check $s
    a=$(measure "/static/$small"); b=$(measure "/static/$large")
    stop
    tot[$s.small]=$(python3 -c "print(${tot[$s.small]:-0} + $a)")
    tot[$s.large]=$(python3 -c "print(${tot[$s.large]:-0} + $b)")
  done
done
python3 - "$workers $gargs" "${tot[graft.small]}" "${tot[whitenoise.small]}" "${tot[graft.large]}" "${tot[whitenoise.large]}" <<'PY'
import sys
w, gs, ws, gl, wl = sys.argv[1], *map(float, sys.argv[2:])
print(f"small (admin base.css.gz): graft {gs:.0f}  gunicorn(-w {w})+WhiteNoise {ws:.0f}  ratio {gs/max(ws,1):.1f}x  (req/s summed over rounds)")
print(f"large (jquery.js.gz):      graft {gl:.0f}  gunicorn(-w {w})+WhiteNoise {wl:.0f}  ratio {gl/max(wl,1):.1f}x")
PY
