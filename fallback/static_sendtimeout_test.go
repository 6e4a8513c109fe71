package fallback

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/internal/slowclient"
	"github.com/graft-dev/graft/wsgi"
)

// TestStaticSendTimeout: under wsgi.Serve, a client that asks Static for a
// 16 MiB file and never reads holds nothing past ServeConfig.SendTimeout:
// the sendfile(2) that waits for it is cut, the connection closes before
// the file's end, and the goroutine count comes back to what it was.
// Before, the request's goroutine, its connection and its open file
// stayed for as long as the client did (net/http times no write out).
func TestStaticSendTimeout(t *testing.T) {
	dir := t.TempDir()
	const size = 16 << 20
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), bytes.Repeat([]byte("s"), size), 0o644); err != nil {
		t.Fatal(err)
	}
	static, err := NewStaticDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := wsgi.Listen(wsgi.ListenConfig{Binds: []string{"127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	ls.Main[0] = slowclient.Listener{Listener: ls.Main[0]}
	addr := ls.Main[0].Addr().String()
	logs := &pythontest.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- wsgi.Serve(ctx, ls, static, nil, wsgi.ServeConfig{NoSignals: true, SendTimeout: 500 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(logs, nil))})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("log:\n%s", logs)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "msg=listening") {
		if time.Now().After(deadline) {
			t.Fatal("Serve did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}

	base := runtime.NumGoroutine()
	conn := slowclient.Dial(t, addr)
	fmt.Fprintf(conn, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
	for runtime.NumGoroutine() <= base {
		time.Sleep(10 * time.Millisecond)
	}
	deadline = time.Now().Add(15 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines 15 s on, %d before the request: the server still holds the stalled client's file\n%s",
				runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "took none of the response for SendTimeout") {
		t.Errorf("the cut is not logged")
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() || n >= size {
		t.Errorf("the client read %d bytes (%v): want the connection closed before the end (%d bytes of body)", n, err, size)
	}
}
