//go:build !(linux && amd64)

package main

import (
	"os"
	"time"
)

// ringSupported reports whether this build has the shared-memory
// transport: only linux/amd64 (futex and memfd are Linux's, and the
// Python peer's publication relies on x86-64's store order).
const ringSupported = false

// ringLink is the shared-memory transport; on this platform it cannot be
// created.
type ringLink struct{}

// newRing reports errRingUnsupported.
func newRing(window int, spin time.Duration, eventfds bool) (*ringLink, []*os.File, error) {
	return nil, nil, errRingUnsupported
}

func (r *ringLink) peerExited()                                  {}
func (r *ringLink) send(h header, payload []byte) error          { return errRingUnsupported }
func (r *ringLink) recv(fn func(h header, payload []byte)) error { return errRingUnsupported }
func (r *ringLink) close() error                                 { return nil }
func ringSize(window int) int                                    { return 0 }
