package wsgi

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// readLoop reads the worker's frames until its socket closes, then retires
// it.
func (p *proc) readLoop() {
	fc := newFrameConn(p.conn)
	err := p.read(fc)
	fc.closeFDs()
	p.die(err)
}

func (p *proc) read(fc *frameConn) error {
	limit := int64(p.pool.cfg.ResponseBuffer)
	started := false
	for {
		h, payload, err := fc.next()
		if err != nil {
			if !started {
				p.ready <- fmt.Errorf("wsgi: worker %d exited before loading the app: %w", p.pid, err)
			}
			return err
		}
		switch h.kind {
		case frameReady:
			started = true
			p.ready <- nil
			continue
		case frameFail:
			started = true
			p.ready <- &LoadError{App: p.pool.cfg.App, Traceback: string(payload)}
			return errors.New("app failed to load")
		case frameLog:
			logRecord(p.log, payload)
			continue
		}
		s := p.stream(h.stream)
		if s == nil {
			if h.kind == frameFile {
				if f, err := fc.takeFD("file"); err == nil {
					f.Close()
				}
			}
			continue // a late frame for a request Go gave up on
		}
		switch h.kind {
		case frameResp:
			if len(payload) < 4 {
				return fmt.Errorf("%w: short RESP", ErrProtocol)
			}
			n := binary.LittleEndian.Uint32(payload)
			if uint64(n) > uint64(len(payload)-4) {
				return fmt.Errorf("%w: bad RESP head length", ErrProtocol)
			}
			status, hdr, err := parseHead(payload[4 : 4+n])
			if err != nil {
				return err
			}
			body := append([]byte(nil), payload[4+n:]...)
			p.done(s, Part{Kind: PartResponse, Status: status, Header: hdr, Data: body})
		case frameHead:
			status, hdr, err := parseHead(payload)
			if err != nil {
				return err
			}
			s.push(Part{Kind: PartHead, Status: status, Header: hdr}, limit)
		case frameData:
			s.push(Part{Kind: PartData, Data: append([]byte(nil), payload...)}, limit)
		case frameFile:
			if len(payload) < 16 {
				return fmt.Errorf("%w: short FILE", ErrProtocol)
			}
			f, err := fc.takeFD("wsgi.file_wrapper")
			if err != nil {
				return err
			}
			s.push(Part{Kind: PartFile, File: f,
				Offset: int64(binary.LittleEndian.Uint64(payload)),
				Count:  int64(binary.LittleEndian.Uint64(payload[8:]))}, limit)
		case frameEnd:
			var err error
			var tb string
			if h.flags&flagAbort != 0 {
				err, tb = ErrAppError, string(payload)
			}
			p.done(s, Part{Kind: PartEnd, Err: err, Traceback: tb})
		case frameError:
			p.done(s, Part{Kind: PartEnd, Err: ErrAppError, Traceback: string(payload)})
		default:
			return fmt.Errorf("%w: unknown frame type %d", ErrProtocol, h.kind)
		}
	}
}

// logRecord logs a Python logging record sent as a LOG frame.
func logRecord(log *slog.Logger, payload []byte) {
	lvl, rest, _ := strings.Cut(string(payload), "\x00")
	name, msg, _ := strings.Cut(rest, "\x00")
	n, _ := strconv.Atoi(lvl)
	level := slog.LevelInfo
	switch {
	case n >= 40:
		level = slog.LevelError
	case n >= 30:
		level = slog.LevelWarn
	case n < 20:
		level = slog.LevelDebug
	}
	log.Log(context.Background(), level, msg, slog.String("logger", name))
}

// stream returns the in-flight stream with id, or nil.
func (p *proc) stream(id uint16) *stream {
	p.mu.Lock()
	s := p.streams[id]
	p.mu.Unlock()
	return s
}

// done ends stream s with its final part and frees its slot.
func (p *proc) done(s *stream, final Part) {
	s.stopTimers()
	// The request's service time: from when it was sent, or from the end
	// of the previous one if it waited behind it (prefetched).
	now := time.Now()
	began := s.start
	if p.lastDone.After(began) {
		began = p.lastDone
	}
	p.lastDone = now
	d := int64(now.Sub(began))
	old := p.ewma.Load()
	p.ewma.Store(old - old/8 + d/8)
	// Account for the request before its client can see the end of it, so
	// that status and metrics read afterwards agree.
	p.mu.Lock()
	delete(p.streams, s.id)
	p.mu.Unlock()
	p.served.Add(1)
	p.pool.release(p)
	s.finish(final)
	p.pool.afterRequest(p)
}
