#!/bin/bash
# Chaos soak: every fault of bench/chaos.sh at once, for a while, against a wsgiserve built with the
# Go race detector, then checks that nothing was lost or leaked (docs/operations.md, "Chaos soak").
#
# The server serves bench/chaos_app.py (Flask) with -workers 2 -timeout 2 -body-timeout 5
# -max-requests 150 -max-requests-jitter 50, the access log on, over h2c (HTTP/1.1 beside it) or
# TLS (HTTP/2 by ALPN, a throwaway certificate), with $CHAOS_FLAGS added (-threads 4, -prefetch 0,
# -preload=false, ...). For LOAD seconds, at once:
#   wrk -t1 -c10 on / (its timeout 30 s: a "timeout" is a hang);
#   bench/soak_clients.py: clients that leave mid-head, mid-upload, mid-download and mid-stream,
#     slowloris heads and bodies, pipelining, requests past -timeout, exceptions, HTTP/2 streams
#     reset mid-response and mid-upload;
#   a fault every 2 s, in turn: a worker streaming an HTTP/2 response SIGKILLed; a SIGHUP reload; a
#     request stuck in C (/stuckc) or in a Python loop (/busy) past -timeout; a worker reading an
#     upload SIGKILLed;
#   HTTP/2 clients (curl) and a slow reader (curl --limit-rate) that must get whole answers.
# Then IDLE seconds without load, and the checks (each prints ok or FAIL; exit status 1 on a FAIL):
# no race report, no Go panic or fatal error; goroutines, descriptors, Python processes and their
# descriptors back to the baseline; nothing in flight or queued; no file left in TMPDIR; one access
# line per counted request (graft_http_requests_total); no negative metric; no client hung (wrk's timeouts, curl's exit
# 28, soak_clients.py finishing); every 5xx explained by a fault injected: 500 only from
# /raise_before, each 504 a request that timed out (those from routes that are not stuck listed), each
# 502 from a worker SIGKILLed, at most -threads per worker killed (by this script or for a timeout);
# and after SIGTERM, exit status 0 and no Python process left.
#
# usage, from the project root:  bench/chaos_soak.sh [LOAD_SECONDS (80)] [IDLE_SECONDS (20)] [h2c|tls]
# env: CHAOS_FLAGS (more server flags), CHAOS_PORT (18400; the ops listener on +1), CHAOS_DIR
#      (default a new temporary directory, printed), CHAOS_NORACE=1 (build without -race)
# needs (Debian): wrk curl openssl python3-flask; it keeps two cores busy while it runs.
set -u
load=${1:-80}; idle=${2:-20}; mode=${3:-h2c}
py=/usr/bin/python3
export GRAFT_PYTHON=$py
for tool in wrk curl openssl; do command -v $tool >/dev/null || { echo "missing $tool: apt-get install -y wrk curl openssl"; exit 2; }; done
$py -c 'import flask' 2>/dev/null || { echo "missing Flask: apt-get install -y python3-flask"; exit 2; }
case $mode in h2c|tls) ;; *) echo "mode must be h2c or tls, not $mode"; exit 2;; esac
[ -f bench/chaos_app.py ] || { echo "run from the project root"; exit 2; }
root=$(pwd)
export CHAOS_DIR=${CHAOS_DIR:-$(mktemp -d)}
D=$CHAOS_DIR
mkdir -p "$D/tmp"
cp bench/chaos_app.py "$D/"
race=-race; [ "${CHAOS_NORACE:-}" = 1 ] && race=
echo "chaos soak: $load s of load, $idle s idle, $mode, flags: ${CHAOS_FLAGS:-none}; files in $D"
go build $race -o "$D/wsgiserve" ./examples/wsgiserve || { echo "build failed"; exit 1; }

port=${CHAOS_PORT:-18400}; ops=127.0.0.1:$((port + 1))
threads=$(sed -n 's/.*-threads[= ]\([0-9]*\).*/\1/p' <<<"${CHAOS_FLAGS:-}"); threads=${threads:-1}
flags=(-h2c); url=http://127.0.0.1:$port; h2=(--http2-prior-knowledge); clientflags=()
if [ $mode = tls ]; then
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/key.pem" -out "$D/cert.pem" -days 1 \
		-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 2>/dev/null || { echo "openssl failed"; exit 1; }
	flags=(-certfile "$D/cert.pem" -keyfile "$D/key.pem"); url=https://127.0.0.1:$port; h2=(-k --http2)
	clientflags=(--tls)
fi
# GORACE: the race reports in the server's log, and its exit status 66 if there was one.
TMPDIR=$D/tmp GORACE="exitcode=66" "$D/wsgiserve" chaos_app:app -chdir "$D" -bind 127.0.0.1:$port -metrics-bind $ops \
	-workers 2 -timeout 2 -body-timeout 5 -max-requests 150 -max-requests-jitter 50 "${flags[@]}" ${CHAOS_FLAGS:-} \
	>"$D/server.log" 2>&1 &
spid=$!
trap 'kill $spid 2>/dev/null' EXIT
for _ in $(seq 150); do curl -sf "http://$ops/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "http://$ops/readyz" >/dev/null || { echo "the server did not start:"; cat "$D/server.log"; exit 1; }
for _ in 1 2 3 4; do curl -sk "${h2[@]}" -o /dev/null "$url/"; done

# sample prints: goroutines fds unlinked pyprocs pyMaxFds inflight queue
sample() {
	local m kids all np=0 wfds=0 p f
	m=$(curl -s --max-time 5 "http://$ops/metrics")
	g() { awk -v k="$1" '$1==k {printf "%d", $2}' <<<"$m"; }
	kids=$(pgrep -P $spid | tr '\n' ' '); all=$kids
	for p in $kids; do all="$all $(pgrep -P $p | tr '\n' ' ')"; done
	for p in $all; do
		np=$((np + 1)); f=$(ls /proc/$p/fd 2>/dev/null | wc -l); ((f > wfds)) && wfds=$f
	done
	echo "$(g go_goroutines) $(ls /proc/$spid/fd | wc -l) $(ls -l /proc/$spid/fd 2>/dev/null | grep -c '(deleted)')" \
		"$np $wfds $(g graft_wsgi_requests_in_flight) $(g graft_wsgi_queue_depth)"
}
base=$(sample)
echo "baseline: goroutines fds unlinked pyprocs pyMaxFds inflight queue = $base"

# log_curl NAME CURL-ARGS...: one line in curl.log: NAME, the status, the bytes, curl's exit status.
log_curl() {
	local name=$1 out; shift
	out=$(curl -w '%{http_code} %{size_download}' "$@"); echo "$name $out $?" >>"$D/curl.log"
}

# fault N: the Nth injected fault; each is logged in faults.log ("kill", "timeout", "hup").
fault() {
	case $(($1 % 4)) in
	0) # a worker streaming an HTTP/2 response, SIGKILLed after its first lines
		curl -sN "${h2[@]}" --max-time 30 "$url/stream?n=15&d=0.1" -o "$D/stream.$1" 2>/dev/null &
		local c=$!
		for _ in $(seq 50); do [ -s "$D/stream.$1" ] && break; sleep 0.1; done
		sleep 0.2
		local w=$(head -1 "$D/stream.$1" 2>/dev/null | awk '{print $3}')
		if [ -n "$w" ] && kill -9 "$w" 2>/dev/null; then echo kill >>"$D/faults.log"; fi
		wait $c; echo "stream - $?" >>"$D/curl.log" ;;
	1) kill -HUP $spid; echo hup >>"$D/faults.log" ;;
	2) # stuck past -timeout 2: 504
		local u=stuckc; (($1 % 8 == 6)) && u="busy?s=60"
		echo timeout >>"$D/faults.log"
		log_curl stuck -sk "${h2[@]}" --max-time 30 -o /dev/null "$url/$u" ;;
	3) # a worker reading an upload, SIGKILLed
		rm -f "$D/slowupload.pid"
		log_curl upload -sk --max-time 30 -X POST --data-binary @"$D/up.bin" -o /dev/null "$url/slowupload" &
		local c=$!
		for _ in $(seq 30); do [ -s "$D/slowupload.pid" ] && break; sleep 0.1; done
		sleep 0.3
		kill -9 "$(cat "$D/slowupload.pid" 2>/dev/null)" 2>/dev/null && echo kill >>"$D/faults.log"
		wait $c ;;
	esac
}
head -c 2000000 /dev/urandom >"$D/up.bin"
: >"$D/faults.log"; : >"$D/curl.log"
end=$((SECONDS + load))
wrk -t1 -c10 --timeout 30s -d${load}s "$url/" >"$D/wrk.txt" 2>&1 &
w=$!
CHAOS_UPLOAD=/upload CHAOS_PIPE="/,/pid,/raise_before,/,/slow/0.01" CHAOS_H2="/sse?n=40&gap=0.05,/download?mib=8,/sleep?s=1,/,/pid" \
	$py bench/soak_clients.py 127.0.0.1 $port $load "${clientflags[@]}" >"$D/clients.json" 2>"$D/clients.err" &
sc=$!
(n=0; while ((SECONDS < end)); do fault $n; n=$((n + 1)); sleep 2; done) &
f=$!
(while ((SECONDS < end)); do
	log_curl h2 -sk "${h2[@]}" --max-time 30 -o /dev/null "$url/slow/0.2"
	log_curl slowread -sk --max-time 60 --limit-rate 2M -o "$D/slowread" "$url/download?mib=4"
done) &
c=$!
wait $w $f $c
wait $sc; scstatus=$?
sleep "$idle"
last=$(sample)
echo "after $idle s idle: $last"
curl -s "http://$ops/metrics" >"$D/metrics.txt"
kill -TERM $spid; wait $spid; exitstatus=$?
trap - EXIT
sleep 1

fail=0
check() { if eval "$2"; then echo "ok    $1"; else echo "FAIL  $1"; fail=1; fi; }
col() { awk -v i=$2 '{print $i}' <<<"$1"; }
log=$D/server.log
check "no race report ($(grep -c 'WARNING: DATA RACE' "$log"))" "! grep -q 'WARNING: DATA RACE' '$log'"
check "no Go panic or fatal error" "! grep -qE '^(panic: |fatal error: )|^goroutine [0-9]+ \\[running\\]' '$log'"
check "server exit status 0 after SIGTERM ($exitstatus)" "(( exitstatus == 0 ))"
check "goroutines back to the baseline ($(col "$base" 1) -> $(col "$last" 1), 2 allowed)" "(( $(col "$last" 1) <= $(col "$base" 1) + 2 ))"
check "descriptors back to the baseline ($(col "$base" 2) -> $(col "$last" 2), 8 kept spool files allowed)" "(( $(col "$last" 2) <= $(col "$base" 2) + 8 ))"
check "Python processes back to the baseline ($(col "$base" 4) -> $(col "$last" 4))" "(( $(col "$last" 4) == $(col "$base" 4) ))"
check "worker descriptors back to the baseline ($(col "$base" 5) -> $(col "$last" 5))" "(( $(col "$last" 5) <= $(col "$base" 5) ))"
check "nothing in flight or queued ($(col "$last" 6), $(col "$last" 7))" "(( $(col "$last" 6) == 0 && $(col "$last" 7) == 0 ))"
check "no file left in TMPDIR" "[ -z \"\$(ls -A '$D/tmp')\" ]"
lines=$(grep -c ' => HTTP ' "$log")
total=$(awk '/^graft_http_requests_total/ {s += $2} END {printf "%d", s}' "$D/metrics.txt")
check "one access line per counted request ($lines lines, graft_http_requests_total $total)" "(( lines == total ))"
neg=$(grep -E '^(graft_|go_|process_)' "$D/metrics.txt" | awk '$2 < 0' | wc -l)
check "no negative metric ($neg)" "(( neg == 0 ))"
# no hang: wrk's timeouts are answers slower than 30 s; curl's exit status 28 is its --max-time.
wt=$(sed -n 's/.*timeout \([0-9]*\).*/\1/p' "$D/wrk.txt"); wt=${wt:-0}
check "no wrk request without an answer in 30 s ($wt)" "(( wt == 0 ))"
hung=$(grep -c ' 28$' "$D/curl.log")
check "no curl request without an answer in its --max-time ($hung)" "(( hung == 0 ))"
check "soak_clients.py finished (exit status $scstatus)" "(( scstatus == 0 ))"
short=$(awk '$1 == "slowread" && $4 == 0 && $3 != 4194304' "$D/curl.log" | wc -l)
check "every slow reader's download whole when curl saw no error ($short short)" "(( short == 0 ))"
# every 5xx explained: status and path of each access line.
grep -o '"[A-Z]* [^ ]* => HTTP 5[0-9][0-9]' "$log" | awk '{print $5, $2}' | sed 's/?.*//' | sort | uniq -c >"$D/5xx.txt"
kills=$(grep -c kill "$D/faults.log"); n504=$(awk '$2 == 504 {s += $1} END {print s + 0}' "$D/5xx.txt")
n502=$(awk '$2 == 502 {s += $1} END {print s + 0}' "$D/5xx.txt")
odd=$(awk '!($2 == 500 && $3 == "/raise_before") && $2 != 504 && $2 != 502' "$D/5xx.txt" | wc -l)
check "500 only from /raise_before, no 5xx but 500, 502 and 504 ($odd other)" "(( odd == 0 ))"
# a 504 is explained by its request's "request timed out" line, or (-threads over 1) by its worker's,
# killed for another request's timeout when this one was past its own too; one from a route that is
# not stuck (/stuckc, /busy, /sleep) is a request that ran past -timeout on a loaded machine, listed below.
unexplained=0
while read -r id wk; do
	grep -qE "msg=\"wsgi: request timed out.*($wk |$id)" "$log" || unexplained=$((unexplained + 1))
done < <(grep '=> HTTP 504' "$log" | awk '{id = "none"; wk = "none"
	for (i = 1; i <= NF; i++) { if ($i ~ /^request.id=/) id = $i; if ($i ~ /^graft.worker=/) wk = $i }; print id, wk}')
check "every 504 a request that timed out ($n504, $unexplained neither its own nor its worker's timeout)" "(( unexplained == 0 ))"
# a 502 is explained by the death of the worker it names (graft.worker=) by SIGKILL, ours or a timeout's.
nokill=$(grep '=> HTTP 502' "$log" | grep -vc 'graft.worker=')
for wk in $(grep '=> HTTP 502' "$log" | grep -o 'graft.worker=[0-9]*' | sort -u); do
	grep -q "$wk graft.exit=\"killed by signal 9" "$log" || nokill=$((nokill + 1))
done
check "every 502 on a worker SIGKILLed ($n502; $nokill workers that were not)" "(( nokill == 0 ))"
check "502s ($n502) at most -threads ($threads) per worker killed ($kills by SIGKILL, $n504 for a timeout)" "(( n502 <= (kills + n504) * threads ))"
left=$(pgrep -f "zygote chaos_app:app .*$D" | wc -l)
check "no Python process left after SIGTERM ($left)" "(( left == 0 ))"
echo "faults: $(sort "$D/faults.log" | uniq -c | tr -s ' \n' ' ')"
echo "5xx (count status path): $(tr -s ' \n' ' ' <"$D/5xx.txt")"
grep -q 'timed out.*graft.timeout' "$log" && echo "timed out, not a stuck route: $(grep -o 'msg="wsgi: request timed out.*url.path=[^ ]*.*graft.running=[^ ]*' "$log" | grep -vE 'url.path=/(stuckc|busy|sleep) ' | sed 's/.*url.path=\([^ ]*\).*graft.running=\([^ ]*\).*/\1 (\2)/' | tr '\n' ' ')"
echo "curl: $(awk '{print $1, $2, $NF}' "$D/curl.log" | sort | uniq -c | tr -s ' \n' ' ')"
echo "wrk: $(grep -E 'requests in|Non-2xx|Socket errors' "$D/wrk.txt" | tr -s ' \n' ' ')"
echo "recycled: $(grep -c 'recycling worker' "$log"), reloads: $(grep -c 'wsgi: reloaded' "$log")"
echo "WARN/ERROR messages: $(grep -oE 'level=(WARN|ERROR) msg="[^"]*"' "$log" | sort | uniq -c | sort -rn | head -12 | tr -s ' \n' ' ')"
echo "clients: $(tr -d ' \n' <"$D/clients.json")"
exit $fail
