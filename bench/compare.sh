#!/bin/bash
# Side-by-side throughput of graft's examples/wsgiserve against gunicorn (gthread worker, keep-alive),
# uWSGI (HTTP/1.1 socket) and Tornado's WSGIContainer on the same WSGI app with the same worker count.
# Rounds alternate the servers so that machine drift hits all of them alike; quote the ratios, not the req/s.
#
# usage:  bench/compare.sh [hello|flask|django] [ROUNDS] [SECONDS] [WORKERS]   (from any directory)
# needs (Debian): wrk gunicorn uwsgi uwsgi-plugin-python3 python3-tornado python3-flask python3-django
# env: PYTHON (default /usr/bin/python3, the interpreter Debian's packages install into)
set -u
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.." || exit 1 # the repository root, for go build ./examples/wsgiserve
app=${1:-hello}; rounds=${2:-3}; secs=${3:-5}; workers=${4:-2}
appdir=$here # where the app module is; every server runs there
case $app in
  hello) spec=hello_app:app;; flask) spec=flask_hello:app;;
  django) spec=django_app:app; appdir="$here/suite/apps";; # the suite's Django project
  *) echo "unknown app $app (hello|flask|django)"; exit 2;;
esac
py=${PYTHON:-/usr/bin/python3}
for tool in wrk curl uwsgi; do command -v $tool >/dev/null || { echo "missing $tool: apt-get install -y wrk curl uwsgi uwsgi-plugin-python3"; exit 2; }; done
"$py" -c "import gunicorn, tornado" 2>/dev/null || { echo "missing gunicorn/tornado for $py: apt-get install -y gunicorn python3-tornado"; exit 2; }
bin=$(mktemp -d)/wsgiserve
go build -o "$bin" ./examples/wsgiserve || { echo "build of ./examples/wsgiserve failed"; exit 1; }
port=$((18000 + RANDOM % 2000))
run() { # name cmd... (PORT in args is replaced); prints req/s
  local name=$1; shift
  port=$((port + 1))
  local cmd=("${@//PORT/$port}")
  (cd "$appdir" && exec setsid "${cmd[@]}") >"/tmp/compare-$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 150); do curl -sf -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
  wrk -t2 -c64 -d1s "http://127.0.0.1:$port/" >/dev/null 2>&1
  local out; out=$(wrk -t2 -c64 -d"${secs}"s --latency "http://127.0.0.1:$port/" 2>/dev/null)
  kill -TERM -- -"$pid" 2>/dev/null; sleep 0.5; kill -KILL -- -"$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  local rps p99 errs
  rps=$(awk '/Requests\/sec/{print $2}' <<<"$out"); p99=$(awk '$1=="99%"{print $2}' <<<"$out")
  errs=$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr -s ' ' | tr '\n' ' ')
  echo "  $name: ${rps:-0} req/s, p99 ${p99:-?} ${errs}" >&2
  echo "${rps:-0}"
}
declare -A tot
for r in $(seq "$rounds"); do
  echo "round $r ($app, $workers workers, wrk -t2 -c64 -d${secs}s)" >&2
  for s in graft gunicorn uwsgi tornado; do
    case $s in
      graft) v=$(run graft "$bin" -bind 127.0.0.1:PORT -workers "$workers" -threads 1 -python "$py" -chdir "$appdir" -access-log=false "$spec");;
      gunicorn) v=$(run gunicorn "$py" -m gunicorn -k gthread --threads 1 -w "$workers" -b 127.0.0.1:PORT "$spec");;
      uwsgi) v=$(run uwsgi uwsgi --plugin python3 --http11-socket 127.0.0.1:PORT --master --processes "$workers" --module "$spec" --disable-logging);;
      tornado) v=$(run tornado "$py" "$here/tornado_serve.py" "$spec" PORT);;
    esac
    tot[$s]=$(python3 -c "print(${tot[$s]:-0} + $v)")
  done
done
python3 - "$app" "${tot[graft]}" "${tot[gunicorn]}" "${tot[uwsgi]}" "${tot[tornado]}" <<'PY'
import sys
app, o, g, u, t = sys.argv[1], *map(float, sys.argv[2:])
print(f"{app}: graft {o:.0f}  gunicorn-gthread {g:.0f}  uwsgi {u:.0f}  tornado {t:.0f}  (req/s summed over rounds)")
print(f"{app}: graft/gunicorn {o/max(g,1):.2f}  graft/uwsgi {o/max(u,1):.2f}  graft/tornado {o/max(t,1):.2f}")
PY
