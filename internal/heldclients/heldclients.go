// Package heldclients gives tests a crowd of clients that each send one
// request on a connection of their own and keep it open afterwards, as
// browsers keep theirs: with a small descriptor limit, such idle
// keep-alive connections are what runs a server out of descriptors.
package heldclients

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// Run dials n connections at once with dial, sends "GET / HTTP/1.1" on
// each and reads its status line, keeping every connection open until
// all n are done; it then closes them. It returns one error per client
// that could not connect or send, or whose status line is not "HTTP/1.1
// 200": nil when every client was answered. Each connection is bounded by
// a 2 minute deadline, far below the keep-alive timeouts the tests set,
// which would free descriptors by themselves otherwise.
func Run(n int, dial func() (net.Conn, error)) []error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	conns := make(chan net.Conn, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := dial()
			if err != nil {
				errs <- fmt.Errorf("client %d: %v", i, err)
				return
			}
			conns <- conn
			conn.SetDeadline(time.Now().Add(2 * time.Minute))
			if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
				errs <- fmt.Errorf("client %d: %v", i, err)
				return
			}
			line, err := bufio.NewReader(conn).ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "HTTP/1.1 200 ") {
				errs <- fmt.Errorf("client %d: %q, %v", i, line, err)
			}
		}()
	}
	wg.Wait()
	close(conns)
	for conn := range conns {
		conn.Close()
	}
	close(errs)
	var out []error
	for err := range errs {
		out = append(out, err)
	}
	return out
}
