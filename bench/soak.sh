#!/bin/bash
# Soak: examples/hybrid under a mixed load with misbehaving clients, sampled while it runs and after
# it stops, to catch leaks and slow degradation (goroutines, descriptors, spool files, workers,
# memory) and wrong accounting (the access log against the request counter, the gauges).
#
# The server serves wsgi/testdata/apps.py's dispatch app with 2 workers, -timeout 2, -body-timeout 5,
# -max-requests 300 -max-requests-jitter 100, and -h2c (or TLS with HTTP/2, a throwaway certificate).
# The load: wrk -t1 -c8 on a native route and on a Python route, bench/soak_clients.py (clients that
# leave mid-request, mid-upload, mid-download and mid-stream; slowloris heads and bodies; pipelining;
# requests past -timeout; app exceptions; HTTP/2 streams reset mid-response and mid-upload) and a SIGHUP
# reload every 40 s. One sample every 15 s: the Go process's RSS, heap, goroutines (/metrics), open
# descriptors and unlinked (spool) ones, the Python processes (zygote and workers: count, summed RSS,
# most descriptors of one), requests in flight, queue, workers by state. After the idle phase the
# last sample is compared with the baseline, and the access lines with graft_http_requests_total;
# each check prints ok or FAIL (exit status 1 on a FAIL). The pool of kept body spool files (up to 8
# unlinked descriptors, docs/operations.md "Tuning") is allowed for.
#
# usage, from the project root:  bench/soak.sh [LOAD_SECONDS] [IDLE_SECONDS] [h2c|tls]
# env: SOAK_FLAGS, more server flags (-threads 4, -preload=false, -prefetch 0, ...); SOAK_PORT,
#      SOAK_OPS_PORT (18000, 19100)
# needs (Debian): wrk curl openssl (for tls); Python 3 ($PYTHON, default /usr/bin/python3)
# It saturates two cores while the load runs; the server's log and the samples stay in $SOAK_DIR
# (default a new temporary directory, printed at the start).
set -u
load=${1:-240}; idle=${2:-90}; mode=${3:-h2c}
py=${PYTHON:-/usr/bin/python3}
export GRAFT_PYTHON=$py
for tool in wrk curl; do command -v $tool >/dev/null || { echo "missing $tool: apt-get install -y wrk curl"; exit 2; }; done
case $mode in h2c|tls) ;; *) echo "mode must be h2c or tls, not $mode"; exit 2;; esac
root=$(pwd)
[ -f "$root/wsgi/testdata/apps.py" ] || { echo "run from the project root"; exit 2; }
dir=${SOAK_DIR:-$(mktemp -d)}
mkdir -p "$dir/tmp" "$dir/testdir"
echo "soak: $load s of load, $idle s idle, $mode; files in $dir"
go build -o "$dir/hybrid" ./examples/hybrid || { echo "build of ./examples/hybrid failed"; exit 1; }

port=${SOAK_PORT:-18000}; ops=127.0.0.1:${SOAK_OPS_PORT:-19100}
flags=(-h2c); scheme=http; clientflags=()
if [ $mode = tls ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/key.pem" -out "$dir/cert.pem" -days 1 \
    -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 2>/dev/null || { echo "openssl failed"; exit 1; }
  flags=(-certfile "$dir/cert.pem" -keyfile "$dir/key.pem"); scheme=https; clientflags=(--tls)
fi
TMPDIR=$dir/tmp GRAFT_TEST_DIR=$dir/testdir "$dir/hybrid" apps:dispatch -chdir "$root/wsgi/testdata" \
  -bind 127.0.0.1:$port -metrics-bind $ops -timeout 2 -body-timeout 5 \
  -max-requests 300 -max-requests-jitter 100 "${flags[@]}" ${SOAK_FLAGS:-} >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
for _ in $(seq 50); do curl -sf "http://$ops/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "http://$ops/readyz" >/dev/null || { echo "the server did not start:"; cat "$dir/server.log"; exit 1; }

# sample prints one line: the columns of header.
header="time rssMiB heapMiB gorout fds unlinked pyprocs pyRSSMiB pyMaxFds inflight queue idle/busy/draining"
sample() {
  local m rss fds unl kids all np=0 wrss=0 wfds=0 p r f
  m=$(curl -s --max-time 5 "http://$ops/metrics")
  g() { awk -v k="$1" '$1==k {printf "%d", $2}' <<<"$m"; }
  rss=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$pid/status)
  fds=$(ls /proc/$pid/fd | wc -l)
  unl=$(ls -l /proc/$pid/fd 2>/dev/null | grep -c '(deleted)')
  kids=$(pgrep -P $pid | tr '\n' ' ')
  all=$kids
  for p in $kids; do all="$all $(pgrep -P $p | tr '\n' ' ')"; done
  for p in $all; do
    np=$((np + 1))
    r=$(awk '/VmRSS/ {print $2}' /proc/$p/status 2>/dev/null); wrss=$((wrss + ${r:-0}))
    f=$(ls /proc/$p/fd 2>/dev/null | wc -l); ((f > wfds)) && wfds=$f
  done
  echo "$(date +%T) $rss $(awk '$1=="go_memstats_heap_alloc_bytes" {printf "%.1f", $2/1048576}' <<<"$m")" \
    "$(g go_goroutines) $fds $unl $np $((wrss / 1024)) $wfds $(g graft_wsgi_requests_in_flight)" \
    "$(g graft_wsgi_queue_depth) $(g 'graft_wsgi_workers{state="idle"}')/$(g 'graft_wsgi_workers{state="busy"}')/$(g 'graft_wsgi_workers{state="draining"}')"
}
{
  echo "$header"
  base=$(sample); echo "$base  baseline"
  wrk -t1 -c8 -d${load}s $scheme://127.0.0.1:$port/api/users/1 >"$dir/wrk-go.txt" 2>&1 &
  w1=$!
  wrk -t1 -c8 -d${load}s $scheme://127.0.0.1:$port/hello >"$dir/wrk-py.txt" 2>&1 &
  w2=$!
  "$py" bench/soak_clients.py 127.0.0.1 $port $load "${clientflags[@]}" >"$dir/clients.json" 2>"$dir/clients.err" &
  c=$!
  (for ((t = 40; t < load; t += 40)); do sleep 40; kill -HUP $pid; done) &
  h=$!
  end=$((SECONDS + load))
  while ((SECONDS < end)); do sleep 15; echo "$(sample)  load"; done
  wait $w1 $w2 $c; kill $h 2>/dev/null
  end=$((SECONDS + idle))
  while ((SECONDS < end)); do sleep 15; last=$(sample); echo "$last  idle"; done
} | tee "$dir/samples.txt" | column -t
last=$(tail -1 "$dir/samples.txt")
base=$(sed -n 2p "$dir/samples.txt")

# The checks.
fail=0
check() { if eval "$2"; then echo "ok    $1"; else echo "FAIL  $1"; fail=1; fi; }
col() { awk -v i=$2 '{print $i}' <<<"$1"; }
check "goroutines back to the baseline ($(col "$base" 4) -> $(col "$last" 4), 2 allowed)" "(( $(col "$last" 4) <= $(col "$base" 4) + 2 ))"
check "descriptors back to the baseline ($(col "$base" 5) -> $(col "$last" 5), 8 kept spool files allowed)" "(( $(col "$last" 5) <= $(col "$base" 5) + 8 ))"
check "Python processes back to the baseline ($(col "$base" 7) -> $(col "$last" 7))" "(( $(col "$last" 7) == $(col "$base" 7) ))"
check "worker descriptors back to the baseline ($(col "$base" 9) -> $(col "$last" 9))" "(( $(col "$last" 9) <= $(col "$base" 9) ))"
check "nothing in flight or queued ($(col "$last" 10), $(col "$last" 11))" "(( $(col "$last" 10) == 0 && $(col "$last" 11) == 0 ))"
check "no file left in TMPDIR" "[ -z \"\$(ls -A '$dir/tmp')\" ]"
curl -s "http://$ops/metrics" >"$dir/metrics.txt"
lines=$(grep -c ' => HTTP ' "$dir/server.log")
total=$(awk '/^graft_http_requests_total/ {s += $2} END {printf "%d", s}' "$dir/metrics.txt")
check "one access line per counted request ($lines lines, graft_http_requests_total $total)" "(( lines == total ))"
dups=$(grep ' => HTTP ' "$dir/server.log" | grep -o 'request.id=[^ ]*' | sort | uniq -d | wc -l)
check "no request id logged twice ($dups)" "(( dups == 0 ))"
neg=$(grep -E '^(graft_|go_|process_)' "$dir/metrics.txt" | awk '$2 < 0' | wc -l)
check "no negative metric ($neg)" "(( neg == 0 ))"
echo "clients: $(tr -d ' \n' <"$dir/clients.json")"
kill -TERM $pid; wait $pid
trap - EXIT
sleep 1
left=$(pgrep -f "zygote apps:dispatch .* $root/wsgi/testdata" | wc -l)
check "no Python process left after SIGTERM ($left)" "(( left == 0 ))"
exit $fail
