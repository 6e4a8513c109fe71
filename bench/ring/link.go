package main

// A link moves frames between Go and one Python peer: the socketpair
// (sockLink) or the shared-memory rings (ringLink).
type link interface {
	// send writes one frame; several goroutines may call it at once.
	send(h header, payload []byte) error
	// recv blocks until at least one frame has arrived, then calls fn for
	// every complete frame it holds, in order. payload is valid only
	// during fn. One goroutine at a time calls recv.
	recv(fn func(h header, payload []byte)) error
	// close releases the link; a blocked recv returns an error.
	close() error
}
