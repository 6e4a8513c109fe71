package wsgi

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// Who reads a worker's socket.
//
// One goroutine at a time reads a worker's socket: the holder of its read
// token (proc.reading, under proc.mu). Frames are dispatched the same way
// whoever reads them (readFrame): parts are pushed to their streams, a
// final part frees the request's slot.
//
// A request whose goroutine waits for a part while nobody reads takes the
// token and reads itself (it leads, in Next): its response reaches the
// goroutine that writes it to the client without a hand-off from another
// goroutine, a wake-up less per response when a worker has one request in
// flight. Frames of other requests it reads on the way are pushed to them
// (waiting, as the reader goroutine would, while one of them has a full
// response buffer).
// Once its own stream has a part, the leader passes the token on
// (passLocked): to a request's goroutine waiting for it (following), else
// to the reader goroutine if other requests are in flight, else to nobody.
//
// The worker's reader goroutine (readLoop) holds the token at startup until
// the app is loaded, then whenever requests are in flight that no goroutine
// of theirs waits on: requests handed a worker by another goroutine (the
// queue's hand-off), requests whose goroutine left before the end (Cancel,
// Complete, a control call given up). It gives the token up before a read
// that may wait, when nothing is in flight or every request in flight has
// its goroutine following. Under load it keeps the token and hands parts
// over as before: the requests there were queued, and handing the token
// back and forth would cost a wake-up each way.
//
// A worker that has just gone idle is not read at once: the next request's
// goroutine would find the reader goroutine in the read and have to wait for
// it to hand the response over. Once the token has been free for
// idleReadAfter (idleRead), the reader goroutine takes it and waits in the
// read, at no cost while the worker stays idle: what an app's background
// threads log between requests (LOG frames) is read then, and the first
// request after the pause is read by it and handed over, as before the read
// token. The end of a worker that exits between requests is noticed through
// its reaper (p.exited), which wakes the reader goroutine to read its last
// frames and the end of the socket.
//
// Whoever reads never waits on a client for good: a reader waiting for a
// request's goroutine to take a part (a client that does not read a big
// response) stops waiting once Go closes the worker's socket (closeSocket:
// the worker was killed, for its timeout say, or exited a second ago).
// That response is cut short (stream.truncate) and the reader goes on to
// the end of the socket, so that the worker is replaced at once.

// idleReadAfter is how long a worker's socket may go unread while the
// worker has no request in flight: how late a record logged by a
// background thread of a worker that has just gone idle can be.
const idleReadAfter = 50 * time.Millisecond

// readLoop is the worker's reader goroutine: it reads when nobody else does
// (see above) and ends the worker when its socket fails or ends.
func (p *proc) readLoop() {
	err := p.readAll()
	if !p.startedUp {
		p.ready <- &startExit{who: fmt.Sprintf("worker %d", p.pid), err: err}
	}
	p.fc.closeFDs()
	p.stdio.close()
	p.die(err)
}

// readAll reads while the reader goroutine holds the token and waits for it
// otherwise. It returns what ended the socket.
func (p *proc) readAll() error {
	exited := p.exited
	for {
		if err := p.readBusy(); err != nil {
			return err
		}
		for held := false; !held; {
			select {
			case <-p.wake:
				if err := p.handedError(); err != nil {
					return err
				}
				held = true
			case <-exited: // read the last frames and the end
				exited = nil
				held = p.takeToken()
			}
		}
	}
}

// readBusy reads and dispatches frames until it has given the token up (see
// yieldLocked) or the socket fails.
func (p *proc) readBusy() error {
	for {
		if !p.fc.buffered() {
			// Before a read that may wait: send the requests that the
			// responses of the last read made room for, in one write per
			// worker.
			p.pool.kick()
			p.mu.Lock()
			yielded := p.yieldLocked()
			p.mu.Unlock()
			if yielded {
				return nil
			}
		}
		if err := p.readFrame(); err != nil {
			return err
		}
	}
}

// yieldLocked gives the reader goroutine's token up, once the app is
// loaded and the process has not exited, to a request's goroutine waiting
// for it when every request in flight has one waiting (else the token
// would soon come back, a wake-up each way), or to nobody when no request
// is in flight, unless it reads an idle worker (see idleRead) and no
// request has come since. The caller holds p.mu.
func (p *proc) yieldLocked() bool {
	if !p.startedUp || p.hasExited() {
		return false
	}
	switch {
	case p.following > 0 && p.following == len(p.streams):
		p.idleReading = false
		p.lead <- struct{}{}
	case len(p.streams) == 0:
		if p.idleReading && p.seq == p.idleSeq {
			return false // only LOG frames: go on waiting in the read
		}
		p.freeTokenLocked()
	default:
		return false
	}
	return true
}

// freeTokenLocked leaves the read token to nobody: the next request's
// goroutine takes it, or the reader goroutine once it has been free for
// idleReadAfter. The caller holds p.mu.
func (p *proc) freeTokenLocked() {
	p.reading, p.idleReading = false, false
	if p.idleTimer == nil {
		p.idleTimer = time.AfterFunc(idleReadAfter, p.idleRead)
	} else {
		p.idleTimer.Reset(idleReadAfter)
	}
}

// idleRead runs when the read token has been free for idleReadAfter: the
// reader goroutine takes it and waits in the read of the idle worker's
// socket. (A run left over from an earlier pause may come sooner; it only
// starts the wait sooner.)
func (p *proc) idleRead() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reading || p.down {
		return
	}
	p.reading, p.idleReading, p.idleSeq = true, true, p.seq
	p.wake <- struct{}{}
}

// takeToken takes the read token for the reader goroutine if nobody holds
// it.
func (p *proc) takeToken() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reading {
		return false
	}
	p.reading = true
	return true
}

// handedError returns the read error a leader handed over with the token.
func (p *proc) handedError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.readErr
	p.readErr = nil
	return err
}

// hasExited reports whether the process has been reaped.
func (p *proc) hasExited() bool { return isClosed(p.exited) }

// ensureReaderLocked wakes the reader goroutine if requests are in flight
// and nobody reads: for a request given a worker by another goroutine, or
// one whose goroutine left before its end. The caller holds p.mu.
func (p *proc) ensureReaderLocked() {
	if !p.reading && !p.down && len(p.streams) > 0 {
		p.reading = true
		p.wake <- struct{}{}
	}
}

// readFrame reads the worker's next frame and dispatches it. The caller
// holds the read token.
func (p *proc) readFrame() error {
	h, payload, err := p.fc.next()
	if err != nil {
		return err
	}
	switch h.kind {
	case frameReady:
		p.startedUp = true
		if err := p.handOver(); err != nil {
			p.ready <- err
			return err
		}
		p.ready <- nil
		return nil
	case frameFail:
		p.startedUp = true
		p.ready <- &LoadError{App: p.pool.cfg.App, Traceback: string(payload)}
		return errors.New("app failed to load")
	case frameLog:
		p.stdio.record(h.stream, h.flags, payload)
		return nil
	case frameStdio:
		p.stdio.write(h.stream, h.flags, payload)
		return nil
	case frameWithdrawn:
		p.withdrawn(payload)
		return nil
	}
	s := p.stream(h.stream)
	if s == nil {
		if h.kind == frameFile {
			if f, err := p.fc.takeFD("file"); err == nil {
				f.Close()
			}
		}
		return nil // a late frame for a request Go gave up on
	}
	if h.kind == frameCallResult {
		p.callDone(s, payload) // a control call's answer (see call.go)
		return nil
	}
	part, err := p.fc.part(h, payload, bodyFrameSize(p.pool.cfg.ResponseBuffer))
	if err != nil {
		return err
	}
	if part.Kind == PartFile {
		if part.File, err = p.fc.takeFD("wsgi.file_wrapper"); err != nil {
			return err
		}
	}
	switch part.Kind {
	case PartResponse, PartEnd:
		p.done(s, part)
	default:
		s.push(part, p)
	}
	return nil
}

// takeTokenFor lets s's goroutine lead if nobody reads, or else counts it
// among the goroutines following, and returns the channel the token comes
// on then (nil for a worker that is gone).
func (p *proc) takeTokenFor(s *stream) (led bool, lead <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false, nil
	}
	if !p.reading {
		p.reading, p.leader = true, s
		return true, nil
	}
	p.following++
	return false, p.lead
}

// followed is how a following goroutine, handed the token, becomes s's
// leader.
func (p *proc) followed(s *stream) {
	p.mu.Lock()
	p.following--
	p.leader = s
	p.mu.Unlock()
}

// unfollow is how a following goroutine stops waiting for the token (its
// part came first): if the token was handed over as the last follower
// left, it is passed on again.
func (p *proc) unfollow() {
	p.mu.Lock()
	p.following--
	if p.following == 0 && len(p.lead) > 0 {
		<-p.lead
		p.passLocked(nil)
	}
	p.mu.Unlock()
}

// readFor reads the worker's socket on s's goroutine, which holds the read
// token, until s has a part or has ended, then passes the token on. If ctx
// ends first, the read is interrupted and readFor returns ctx's error.
func (p *proc) readFor(ctx context.Context, s *stream) error {
	if s.unhook == nil && ctx.Done() != nil {
		s.unhook = context.AfterFunc(ctx, func() { p.interrupt(s) })
	}
	// A context that ended before s led (its hook fired then, and found
	// another reader) is seen here; one that ends from now on interrupts
	// the read.
	err := ctx.Err()
	cut := err != nil
	for err == nil && len(s.parts) == 0 && !s.hasEnded() {
		if !p.fc.buffered() {
			p.pool.kick() // as the reader goroutine does (readBusy)
		}
		err = p.readFrame()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.leader = nil
	if s.interrupted {
		s.interrupted = false
		p.conn.SetReadDeadline(time.Time{})
		cut = cut || errors.Is(err, os.ErrDeadlineExceeded)
	}
	if err != nil && !cut {
		// The socket failed or ended: the reader goroutine ends the
		// worker (die), and s with it.
		p.readErr = err
		p.wake <- struct{}{}
		return nil
	}
	p.passLocked(s)
	if cut {
		return ctx.Err()
	}
	return nil
}

// interrupt makes the read of s's goroutine return, if it is reading: its
// request's context is done.
func (p *proc) interrupt(s *stream) {
	p.mu.Lock()
	if p.leader == s {
		s.interrupted = true
		p.conn.SetReadDeadline(time.Unix(1, 0)) // long past: the read returns at once
	}
	p.mu.Unlock()
}

// passLocked hands the read token on from a request's goroutine, s's (or
// nobody's), that reads no more: to a request's goroutine waiting for it,
// else to the reader goroutine if another request is in flight or the
// process has exited (it reads the end), else to nobody: the next request's
// goroutine takes it. s's own stream, if still in flight, is left unread
// until its goroutine comes back for the next part (or leaves: see
// stream.leave). On a worker that is gone the token is dropped: nobody
// reads any more. The caller holds p.mu.
func (p *proc) passLocked(s *stream) {
	if p.down {
		return
	}
	others := len(p.streams)
	if s != nil && p.streams[s.id] == s {
		others--
	}
	switch {
	case p.following > 0:
		p.lead <- struct{}{}
	case others > 0 || p.hasExited():
		p.wake <- struct{}{}
	default:
		p.freeTokenLocked()
	}
}
