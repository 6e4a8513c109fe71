// Command ring measures, side by side, two ways for graft's Go process to
// exchange small frames with a Python worker (issue 11): the socketpair
// graft uses today, and a shared-memory ring in the style of NGINX Unit's
// shared-memory ports.
//
// From the repository root, on linux/amd64 (other platforms run only the
// socket, the ring reports itself unsupported):
//
//	go run ./bench/ring                     # 5 rounds of 1 s per cell
//	go run ./bench/ring -rounds 7 -secs 2 -spin 20us
//	go run ./bench/ring -transports sock,ringefd -conc 1 -work 0
//
// It starts one Python peer (peer.py, embedded; -python, default
// $GRAFT_PYTHON, else /usr/bin/python3; only the standard library) per
// transport and client kind, and measures ping-pongs of a 200-byte request
// and a 100-byte answer (-req, -resp) with the peer burning 0 or 30 µs of
// CPU per message (-work; a hello WSGI app costs about 28 µs):
//
//   - sock: an AF_UNIX SOCK_STREAM socketpair, the peer in a blocking
//     recv, Go reading through net.UnixConn (the netpoller);
//   - ring: two single-producer single-consumer byte rings in a sealed
//     memfd mapped by both processes, the sleeping side woken with
//     futex(2) only when it said it sleeps;
//   - ringspin: ring, each side polling for -spin before it sleeps;
//   - ringefd: ring, woken through eventfds instead of futexes: Go's
//     reader waits in the netpoller as it does for a socket, the peer in
//     poll(2) (NGINX Unit's shared-memory queue with a notification
//     socket).
//
// Each transport runs "direct" (the requesting goroutine sends and reads
// its own answer, one at a time) with 1 requester, and "handoff" (as wsgi
// does: a reader goroutine hands each answer to its requester over a
// channel, up to -window in flight) with 1, 8 and 64 requesters (-conc).
// Every cell measures round trips per second, p50 and p99 round-trip
// latency, this process's CPU per round trip (getrusage) and the peer's
// (its own getrusage, asked over the transport). The cells run
// transport after transport, the first transport rotating each round,
// and the tables printed at the end are medians over the rounds; the
// per-cell numbers go to stderr as they come.
//
// Every answer is checked against its request; the test (go test
// ./bench/ring) runs short exchanges over every transport with the real
// peer, and needs Python 3 (apt-get install python3, or GRAFT_PYTHON).
//
// The results and what a real adoption would have to solve are in
// docs/performance.md, "A shared-memory ring instead of the socket".
package main
