#!/bin/bash
# Chaos: operations under load, graft's wsgiserve against Debian's gunicorn, serving
# bench/chaos_app.py (Flask) with 2 workers under wrk; docs/operations.md ("Operations under load")
# has the numbers. Each scenario prints wrk's summary (its "Non-2xx" and "Socket errors" lines are
# the failures) and what the server logged or counted.
#   recycle   -max-requests 200 -max-requests-jitter 50, preload and not, wrk -c32 for $SECS (30)
#   reload    a SIGHUP every 2 s under wrk -c32 for 20 s, -threads 2, preload and not
#   kill      a worker streaming a response SIGKILLed 3 times under wrk -c16 (12 s), -threads 1 and 4;
#             then one reading an upload
#   timeout   -timeout 3: requests stuck in C (/stuckc) and in a Python loop (/busy), 4 in 15 s,
#             under wrk -c16; -prefetch 8 (the default) and 0
#   shutdown  SIGTERM under wrk -c16 with 4 requests of 3 s in flight (-threads 4)
# gunicorn runs the same where it has the feature (sync workers, gthread for threads).
#
# usage, from the project root:  bench/chaos.sh [SCENARIO...]   (default: all)
# env: SECS (recycle's length), CHAOS_DIR (default a new temporary directory, printed)
# needs (Debian): wrk curl gunicorn python3-flask; it saturates two cores while it runs.
set -u
py=/usr/bin/python3
export GRAFT_PYTHON=$py
for tool in wrk curl gunicorn; do command -v $tool >/dev/null || { echo "missing $tool: apt-get install -y wrk curl gunicorn"; exit 2; }; done
secs=${SECS:-30}
export CHAOS_DIR=${CHAOS_DIR:-$(mktemp -d)}
echo "logs in $CHAOS_DIR"
cp bench/chaos_app.py "$CHAOS_DIR/"
go build -o "$CHAOS_DIR/wsgiserve" ./examples/wsgiserve || exit 1
D=$CHAOS_DIR
port=18300

# up URL: waits for the server to answer.
up() { for _ in $(seq 100); do curl -sf "$1" >/dev/null && return 0; sleep 0.2; done; echo "server did not start"; return 1; }

# graft NAME FLAGS...: starts wsgiserve on $port (ops on $port+1); sets spid.
graft() {
	local name=$1; shift
	"$D/wsgiserve" chaos_app:app -chdir "$D" -bind 127.0.0.1:$port -metrics-bind 127.0.0.1:$((port + 1)) \
		-workers 2 -access-log=false "$@" >"$D/$name.log" 2>&1 &
	spid=$!
	up http://127.0.0.1:$port/
}

# gunicorn NAME FLAGS...: the same with Debian's gunicorn.
gunicorn() {
	local name=$1; shift
	/usr/bin/gunicorn -w 2 -b 127.0.0.1:$port --chdir "$D" "$@" chaos_app:app >"$D/$name.log" 2>&1 &
	spid=$!
	up http://127.0.0.1:$port/
}

# stop: SIGTERM, and the exit status.
stop() { kill -TERM $spid; wait $spid; echo "server exit status $?"; port=$((port + 2)); }

restarts() { curl -s http://127.0.0.1:$((port + 1))/metrics | grep '^graft_wsgi_worker_restarts_total' | grep -v ' 0$'; }

recycle() {
	for p in true false; do
		echo "== recycle graft -preload=$p"
		graft recycle-$p -max-requests 200 -max-requests-jitter 50 -preload=$p
		wrk -t2 -c32 -d${secs}s http://127.0.0.1:$port/
		restarts; stop
		grep 'recycling worker' "$D/recycle-$p.log" | sed 's/.*graft.served=\([0-9]*\).*/\1/' | sort -n |
			awk '{a[NR]=$1} END {print NR " recycled, served " a[1] " to " a[NR] " requests"}'
		local pre=""; [ $p = true ] && pre=--preload
		echo "== recycle gunicorn (sync) $pre"
		gunicorn gunicorn-recycle-$p --max-requests 200 --max-requests-jitter 50 $pre
		wrk -t2 -c32 -d${secs}s http://127.0.0.1:$port/
		stop
	done
}

# hups PID SECS: wrk -c32 for SECS while PID gets a SIGHUP every 2 s.
hups() {
	wrk -t2 -c32 -d${2}s http://127.0.0.1:$port/ &
	local w=$! n=0
	sleep 1
	while kill -0 $w 2>/dev/null; do kill -HUP $1; n=$((n + 1)); sleep 2; done
	wait $w
	echo "$n SIGHUPs"
}

reload() {
	for p in true false; do
		echo "== reload graft -preload=$p"
		graft reload-$p -threads 2 -preload=$p
		hups $spid 20
		restarts; stop
		grep -c 'wsgi: reloaded' "$D/reload-$p.log"
	done
	echo "== reload gunicorn (gthread, 2 threads)"
	gunicorn gunicorn-reload -k gthread --threads 2
	hups $spid 20
	stop
}

# streamkills: 3 times, a streaming request whose worker is SIGKILLed after 1 s.
streamkills() {
	for _ in 1 2 3; do
		sleep 1
		curl -sN "http://127.0.0.1:$port/stream?n=40&d=0.1" -o "$D/stream.out" -w 'stream: %{http_code}, %{size_download} bytes, ' &
		local c=$!
		sleep 1
		kill -9 "$(head -1 "$D/stream.out" | awk '{print $3}')"
		wait $c
		echo "curl exit status $? (18: transfer closed with outstanding read data)"
	done
}

kill_() {
	for t in 1 4; do
		echo "== kill graft -threads $t"
		graft kill-$t -threads $t
		wrk -t2 -c16 -d12s http://127.0.0.1:$port/ >"$D/kill-$t.wrk" &
		local w=$!
		streamkills
		wait $w; cat "$D/kill-$t.wrk"
		if [ $t = 1 ]; then
			head -c 3000000 /dev/urandom >"$D/up.bin"
			rm -f "$D/slowupload.pid"
			curl -s -X POST --data-binary @"$D/up.bin" http://127.0.0.1:$port/slowupload -o /dev/null -w 'upload: %{http_code}\n' &
			local c=$!
			for _ in $(seq 50); do [ -s "$D/slowupload.pid" ] && break; sleep 0.1; done
			sleep 0.5; kill -9 "$(cat "$D/slowupload.pid")"; wait $c
		fi
		restarts; stop
	done
	echo "== kill gunicorn (gthread, 4 threads)"
	gunicorn gunicorn-kill -k gthread --threads 4
	wrk -t2 -c16 -d12s http://127.0.0.1:$port/ >"$D/gunicorn-kill.wrk" &
	local w=$!
	streamkills
	wait $w; cat "$D/gunicorn-kill.wrk"
	stop
}

# stuck: 4 stuck requests, 3 s apart, under wrk -c16 for 15 s.
stuck() {
	wrk -t2 -c16 -d15s http://127.0.0.1:$port/ >"$D/stuck-$port.wrk" &
	local w=$!
	sleep 1
	for u in stuckc busy stuckc busy; do
		curl -s -o /dev/null -w "$u: %{http_code} after %{time_total}s, curl exit status " http://127.0.0.1:$port/$u
		echo $? &
		sleep 3
	done
	wait $w; sleep 4; cat "$D/stuck-$port.wrk"
}

timeout_() {
	for pf in 8 0; do
		echo "== timeout graft -prefetch $pf"
		graft timeout-$pf -timeout 3 -prefetch $pf
		stuck
		restarts; stop
	done
	echo "== timeout gunicorn (sync)"
	gunicorn gunicorn-timeout --timeout 3
	stuck
	stop
}

# term: SIGTERM under wrk with 4 slow requests in flight, then a new connection.
term() {
	wrk -t2 -c16 -d6s http://127.0.0.1:$port/ >"$D/term.wrk" &
	local w=$!
	sleep 1
	for i in 1 2 3 4; do curl -s -o /dev/null -w "slow request $i: %{http_code} after %{time_total}s\n" http://127.0.0.1:$port/slow/3.0 & done
	sleep 0.5
	local t0=$(date +%s.%N)
	kill -TERM $spid
	sleep 0.3
	curl -s -o /dev/null -w 'a new request after SIGTERM: %{http_code}, curl exit status ' http://127.0.0.1:$port/
	echo "$? (7: connection refused)"
	wait $spid; echo "server exit status $?, $(echo "$(date +%s.%N) - $t0" | bc) s after SIGTERM"
	wait $w; sleep 3; cat "$D/term.wrk"
	port=$((port + 2))
}

shutdown() {
	echo "== shutdown graft -threads 4"
	graft shutdown -threads 4 -graceful-timeout 10
	term
	echo "== shutdown gunicorn (gthread, 4 threads)"
	gunicorn gunicorn-shutdown -k gthread --threads 4 --graceful-timeout 10
	term
}

for s in ${@:-recycle reload kill timeout shutdown}; do
	case $s in
	recycle | reload | shutdown) $s ;;
	kill | timeout) ${s}_ ;;
	*) echo "unknown scenario $s"; exit 2 ;;
	esac
done
