package wsgi

import (
	"encoding/binary"
	"fmt"
	"net"
	"syscall"
)

// startMap is the memory a worker with Threads > 1 shares with Go to say
// which of its requests it has started: one byte per stream id, which the
// worker sets to 1 on the thread that takes the request, before the app
// sees it, and Go sets back to 0 when it gives the id to a new request
// (registerLocked). A last byte is set by the worker once it has mapped
// the memory: until then the map says nothing.
//
// It is read only after the worker is dead (die), to tell the requests it
// never started, which are sent to another worker (ErrNotStarted), from
// those it did, which are not (never run twice). A single-threaded worker
// needs none: it runs requests in the order they were sent (proc.running).
// A worker killed by the OOM killer or a signal has no chance to say
// anything, hence memory rather than a message: the request's path pays a
// store on each side, no system call.
//
// The memory is an anonymous file (memfd_create on Linux, an unlinked
// temporary file elsewhere) that Go maps and passes to the worker in a
// frameStartMap, once it is ready and before any request.
type startMap []byte

// startMapSize is the size of a started map: a byte per stream id, and the
// worker's "mapped" byte.
const startMapSize = 1<<16 + 1

// giveStartMap creates a started map and writes the frameStartMap that
// gives it to the worker on c, its socket, before any request (see
// proc.handOver).
func giveStartMap(c *net.UnixConn) (startMap, error) {
	f, err := sharedMemory(startMapSize)
	if err != nil {
		return nil, fmt.Errorf("wsgi: the worker's started map: %w", err)
	}
	defer f.Close() // the mapping and the frame in flight keep the memory
	m, err := syscall.Mmap(int(f.Fd()), 0, startMapSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("wsgi: the worker's started map: mmap: %w", err)
	}
	var frame [frameHeaderSize + 4]byte
	putFrameHeader(frame[:], frameHeader{kind: frameStartMap, length: 4})
	binary.LittleEndian.PutUint32(frame[frameHeaderSize:], startMapSize)
	if _, _, err := c.WriteMsgUnix(frame[:], syscall.UnixRights(int(f.Fd())), nil); err != nil {
		syscall.Munmap(m)
		return nil, fmt.Errorf("wsgi: the worker's started map: %w", err)
	}
	return m, nil
}

// clear marks stream id as not started: it is about to carry a new
// request. The worker set it for the id's last request before it sent
// that request's final frame, which Go has read.
func (m startMap) clear(id uint16) { m[id] = 0 }

// started reports whether the worker started the request on stream id,
// and whether the map can tell at all (the worker mapped it).
func (m startMap) started(id uint16) (started, known bool) {
	return m[id] != 0, m[len(m)-1] != 0
}

// unmap releases the map.
func (m startMap) unmap() { syscall.Munmap(m) }
