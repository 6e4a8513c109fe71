package wsgi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
)

// Frame types. Go sends the first group, workers the second. worker.py
// has the same constants (frameReq is REQ, flagBodyFD is F_BODY_FD,
// frameHeaderSize is HEADER_SIZE, maxFrame is MAX_FRAME), and
// TestProtocolConstants checks that the two files agree.
const (
	frameReq    byte = 1 // environ block + inline body (or a body fd)
	frameCancel byte = 2 // the client went away: stop iterating
	frameFork   byte = 3 // to the zygote: fork a worker on the attached fds
	frameCall   byte = 4 // a control call: environ block + name \0 argument
	// frameStartMap gives a worker with Threads > 1 its started map
	// (startmap.go): u32 size, the shared file's descriptor attached.
	frameStartMap byte = 5
	// frameControl gives a worker that may be given prefetched requests
	// its control socket (withdraw.go), the descriptor attached.
	frameControl byte = 6
	// frameWithdraw, on the control socket: u64 sequence numbers of
	// requests Go would send to another worker.
	frameWithdraw byte = 7

	frameReady  byte = 16 // the app is imported: pid \0 version \0 executable
	frameFail   byte = 17 // the app could not be imported: traceback
	frameResp   byte = 18 // u32 head length | head | whole body
	frameHead   byte = 19 // head of a streamed response
	frameData   byte = 20 // a body chunk of a streamed response
	frameFile   byte = 21 // u64 offset | i64 count, a file descriptor attached
	frameEnd    byte = 22 // end of a streamed response (flags: abort, cancelled)
	frameError  byte = 23 // the app raised before sending headers: traceback
	frameLog    byte = 24 // a logging record: levelno \0 logger \0 message (logframe.go)
	frameForked byte = 25 // from the zygote: u32 pid of the forked worker
	frameExited byte = 26 // from the zygote: pid \0 how a worker ended
	// frameCallResult answers a frameCall: a JSON object.
	frameCallResult byte = 27
	// frameHints is wsgi.early_hints: name \0 value \0 ... for a 103.
	frameHints byte = 28
	// frameStdio is what Python code wrote to sys.stdout or sys.stderr:
	// one write's bytes (stdiolog.go). It and frameLog carry the writing
	// thread's key in the header's stream field, not a request's stream.
	frameStdio byte = 29 // with flagRequestID: the request's id \0 first
	// frameWithdrawn answers frameWithdraw: u64 sequence numbers of the
	// requests the worker will skip. (30 and 31 are pipeRecord's bytes.)
	frameWithdrawn byte = 32
)

// Frame flags.
const (
	flagBodyFD    byte = 1 // REQ: the body is a file descriptor (SCM_RIGHTS)
	flagEnvLP     byte = 2 // REQ: length-prefixed environ (a value holds NUL)
	flagSized     byte = 1 // HEAD: u64 body length, then the head block
	flagAbort     byte = 1 // END: the app failed after headers were sent
	flagCancelled byte = 2 // END: iteration stopped after a CANCEL
	flagPidFD     byte = 1 // FORKED: a pidfd of the worker (SCM_RIGHTS)
	flagRequestID byte = 1 // LOG, STDIO: made serving a request: its id \0 first (logframe.go)
)

// A child process the app forked has no socket to Go: worker.py's
// GoLogHandler writes its logging records to the output pipe, each as one
// line that only it writes: pipeRecord, the level number, pipeRecordSep,
// the logger's name, pipeRecordSep, the message with its backslashes, CRs
// and LFs escaped (\\, \r, \n). See piperecord.go.
const (
	pipeRecord    byte = 30 // begins a record's line (ASCII RS), which no plain print does
	pipeRecordSep byte = 31 // after the level and after the logger (ASCII US)
)

const (
	// frameHeaderSize is the size of a frame header:
	// u8 type | u8 flags | u16 stream | u32 payload length, little endian.
	frameHeaderSize = 8
	// maxFrame bounds a frame's payload; larger request bodies are passed as
	// file descriptors and responses stream in chunks, so only a huge
	// environ or a huge single chunk could come near it.
	maxFrame = 1 << 30
	// maxBodyFrame bounds the body bytes of a RESP or DATA frame: the
	// worker cuts larger chunks (see bodyFrameSize).
	maxBodyFrame = 256 << 10
)

// bodyFrameSize is the largest body a worker puts in one frame: the
// response window (Config.ResponseBuffer), at most maxBodyFrame. Whatever
// the app's chunking, Go then never holds more than the window of one
// response, and reads frames into a buffer of a fixed size.
func bodyFrameSize(window int) int { return min(window, maxBodyFrame) }

// frameHeader is a decoded frame header.
type frameHeader struct {
	kind   byte
	flags  byte
	stream uint16
	length uint32
}

// errFrameTooLarge reports a frame whose announced length exceeds maxFrame.
var errFrameTooLarge = errors.New("wsgi: frame too large")

// putFrameHeader writes h into b[:8].
func putFrameHeader(b []byte, h frameHeader) {
	b[0] = h.kind
	b[1] = h.flags
	binary.LittleEndian.PutUint16(b[2:], h.stream)
	binary.LittleEndian.PutUint32(b[4:], h.length)
}

// parseFrameHeader decodes b[:8].
func parseFrameHeader(b []byte) (frameHeader, error) {
	if len(b) < frameHeaderSize {
		return frameHeader{}, fmt.Errorf("wsgi: short frame header (%d bytes)", len(b))
	}
	h := frameHeader{
		kind:   b[0],
		flags:  b[1],
		stream: binary.LittleEndian.Uint16(b[2:]),
		length: binary.LittleEndian.Uint32(b[4:]),
	}
	if h.length > maxFrame {
		return h, fmt.Errorf("%w: %d bytes", errFrameTooLarge, h.length)
	}
	return h, nil
}

// frameConn reads and writes frames on a worker's socket. Reads go through
// ReadMsgUnix with room for ancillary data, because a worker may attach a
// file descriptor to a frame (wsgi.file_wrapper) and a plain read would make
// the kernel drop it. One goroutine at a time reads (the holder of the
// worker's read token, see reader.go); writes are serialised by the
// caller.
type frameConn struct {
	c    *net.UnixConn
	buf  []byte
	r, w int
	oob  []byte
	fds  []int // received descriptors not yet claimed by a FILE frame
	// data recycles the buffers of large DATA frames (see dataPart).
	data sync.Pool
}

// readBufSize is the size of a frameConn's read buffer: one read takes
// all that a worker's socket holds (its send buffer is 208 KiB on Linux
// by default), so that the frames of a big response come in a few reads
// and dataPart can join them.
const readBufSize = 256 << 10

func newFrameConn(c *net.UnixConn) *frameConn {
	return &frameConn{c: c, buf: make([]byte, readBufSize), oob: make([]byte, syscall.CmsgSpace(4*4))}
}

// fill reads more bytes into the buffer.
func (f *frameConn) fill() error {
	if f.r == f.w {
		f.r, f.w = 0, 0
	} else if f.w == len(f.buf) {
		n := copy(f.buf, f.buf[f.r:f.w])
		f.r, f.w = 0, n
	}
	n, oobn, _, _, err := f.c.ReadMsgUnix(f.buf[f.w:], f.oob)
	n, oobn = max(n, 0), max(oobn, 0) // -1 with some errors (a deadline): the buffer stays as it was
	if oobn > 0 {
		if msgs, perr := syscall.ParseSocketControlMessage(f.oob[:oobn]); perr == nil {
			for _, m := range msgs {
				if fds, perr := syscall.ParseUnixRights(&m); perr == nil {
					f.fds = append(f.fds, fds...)
				}
			}
		}
	}
	f.w += n
	if n == 0 && (err == nil || errors.Is(err, io.EOF)) {
		err = io.EOF // plain, so that next can tell a frame cut short
	}
	if n > 0 {
		return nil
	}
	return err
}

// next returns the next frame. Its payload aliases the read buffer and is
// valid only until the following call.
func (f *frameConn) next() (frameHeader, []byte, error) {
	for f.w-f.r < frameHeaderSize {
		if err := f.fill(); err != nil {
			return frameHeader{}, nil, err
		}
	}
	h, err := parseFrameHeader(f.buf[f.r:])
	if err != nil {
		return h, nil, err
	}
	need := frameHeaderSize + int(h.length)
	if need > len(f.buf) {
		// A large frame: grow the buffer to hold it whole.
		nb := make([]byte, need)
		f.w = copy(nb, f.buf[f.r:f.w])
		f.r = 0
		f.buf = nb
	} else if len(f.buf)-f.r < need {
		f.w = copy(f.buf, f.buf[f.r:f.w])
		f.r = 0
	}
	for f.w-f.r < need {
		if err := f.fill(); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return h, nil, err
		}
	}
	p := f.buf[f.r+frameHeaderSize : f.r+need]
	f.r += need
	if len(f.buf) > 1<<20 && f.r == f.w {
		f.buf, f.r, f.w = make([]byte, readBufSize), 0, 0 // don't keep a huge buffer
	}
	return h, p, nil
}

// buffered reports whether a whole frame is in the buffer: next returns
// it without reading.
func (f *frameConn) buffered() bool {
	if f.w-f.r < frameHeaderSize {
		return false
	}
	h, err := parseFrameHeader(f.buf[f.r:])
	return err != nil || f.w-f.r >= frameHeaderSize+int(h.length)
}

// part decodes a response frame read by next into its Part (see
// decodePart). A DATA frame's body goes in a recycled buffer, together
// with the DATA frames of the same stream that the same reads brought,
// up to max bytes (see dataPart).
func (f *frameConn) part(h frameHeader, payload []byte, max int) (Part, error) {
	switch {
	case h.kind == frameData && len(payload) > 0:
		return f.dataPart(payload, h.stream, max), nil
	case h.kind == frameResp:
		// The whole body of a response (up to the window) goes in a
		// recycled buffer too, given back once it is written.
		p, body, err := decodeResp(payload)
		if err == nil && len(body) > 0 {
			d := f.dataBuf(body)
			p.Data, p.buf = d.b, d
		}
		return p, err
	}
	return decodePart(h, payload)
}

// dataRound is the unit a recycled DATA buffer's size is rounded up to.
const dataRound = 16 << 10

// dataBuf is a recycled buffer holding the body bytes of DATA frames.
// The Part carrying it gives it back with release once its bytes are
// written to the client, so that a big download allocates no memory per
// frame (a copy per frame made the garbage collector scan and free the
// whole body: a third of Go's CPU time on a 10 MiB download).
type dataBuf struct {
	b    []byte
	home *sync.Pool
}

// dataPart returns a PartData holding a copy of payload, a DATA frame of
// stream id, in a recycled buffer, followed by the DATA frames of the same
// stream that are already wholly in the read buffer, up to max bytes in
// all: one handoff to the request's goroutine and one write to the client
// for what a single read from the worker brought, without waiting for
// anything (a yielded block is never held back). Buffers are sized to
// what they first held, rounded up to 16 KiB.
func (f *frameConn) dataPart(payload []byte, id uint16, max int) Part {
	d := f.dataBuf(payload)
	for {
		more := f.bufferedData(id, max-len(d.b))
		if more == nil {
			break
		}
		d.b = append(d.b, more...)
	}
	return Part{Kind: PartData, Data: d.b, buf: d}
}

// dataBuf returns a recycled buffer holding a copy of payload.
func (f *frameConn) dataBuf(payload []byte) *dataBuf {
	d := f.emptyDataBuf(len(payload))
	copy(d.b, payload)
	return d
}

// bufferedData consumes and returns the payload of the next frame if it
// is a non-empty DATA frame of stream id of at most max bytes, wholly in
// the read buffer; else it returns nil. The payload aliases the buffer.
func (f *frameConn) bufferedData(id uint16, max int) []byte {
	if f.w-f.r < frameHeaderSize {
		return nil
	}
	h, err := parseFrameHeader(f.buf[f.r:])
	n := int(h.length)
	if err != nil || h.kind != frameData || h.stream != id || n == 0 || n > max || f.w-f.r < frameHeaderSize+n {
		return nil
	}
	p := f.buf[f.r+frameHeaderSize : f.r+frameHeaderSize+n]
	f.r += frameHeaderSize + n
	return p
}

// release gives the part's recycled buffer back, if it has one: p.Data
// must not be used afterwards.
func (p *Part) release() {
	if d := p.buf; d != nil {
		p.buf, p.Data = nil, nil
		d.home.Put(d)
	}
}

// emptyDataBuf returns a recycled buffer of n bytes (to fill: a frame's
// payload, a spilled response's bytes read back).
func (f *frameConn) emptyDataBuf(n int) *dataBuf {
	d, _ := f.data.Get().(*dataBuf)
	if d == nil || cap(d.b) < n {
		d = &dataBuf{b: make([]byte, 0, (n+dataRound-1)&^(dataRound-1)), home: &f.data}
	}
	d.b = d.b[:n]
	return d
}

// drop discards a part nobody will take: its buffer goes back to its pool
// and its file, if any, is closed.
func (p *Part) drop() {
	p.release()
	if p.File != nil {
		p.File.Close()
	}
}

// takeFD returns the oldest received file descriptor as a file.
func (f *frameConn) takeFD(name string) (*os.File, error) {
	if len(f.fds) == 0 {
		return nil, errors.New("wsgi: FILE frame without a file descriptor")
	}
	fd := f.fds[0]
	f.fds = f.fds[1:]
	return os.NewFile(uintptr(fd), name), nil
}

// takeRawFD returns the oldest received file descriptor, or -1 if there
// is none.
func (f *frameConn) takeRawFD() int {
	if len(f.fds) == 0 {
		return -1
	}
	fd := f.fds[0]
	f.fds = f.fds[1:]
	return fd
}

// closeFDs closes descriptors that were never claimed.
func (f *frameConn) closeFDs() {
	for _, fd := range f.fds {
		syscall.Close(fd)
	}
	f.fds = nil
}

// writeAll writes b, attaching file (if not nil) to its first byte.
func writeAll(c *net.UnixConn, b []byte, file *os.File) error {
	if file != nil {
		n, _, err := c.WriteMsgUnix(b, syscall.UnixRights(int(file.Fd())), nil)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("wsgi: short write with descriptor")
		}
		b = b[n:]
	}
	for len(b) > 0 {
		n, err := c.Write(b)
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// appendEnvFrame starts a frame whose payload begins with an environ
// block (REQ, CALL): room for the frame header, the block's u32 length,
// the block. It returns the frame so far and flagEnvLP if the block is
// length-prefixed (see appendEnv).
func appendEnvFrame(b []byte, pairs []string) ([]byte, byte) {
	b = append(b, make([]byte, frameHeaderSize+4)...)
	b, lp := appendEnv(b, pairs)
	binary.LittleEndian.PutUint32(b[frameHeaderSize:], uint32(len(b)-frameHeaderSize-4))
	if lp {
		return b, flagEnvLP
	}
	return b, 0
}

// appendEnv appends the environ block for pairs (key, value, key, value, ...)
// to b. The fast form is NUL-separated, which the worker splits with one
// C-level call; when any string contains NUL (a %00 in the path decodes to
// one), every string is u32-length-prefixed instead and lp is true.
func appendEnv(b []byte, pairs []string) (out []byte, lp bool) {
	for _, s := range pairs {
		for i := 0; i < len(s); i++ {
			if s[i] == 0 {
				lp = true
				break
			}
		}
		if lp {
			break
		}
	}
	if lp {
		for _, s := range pairs {
			b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
			b = append(b, s...)
		}
		return b, true
	}
	for i, s := range pairs {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, s...)
	}
	return b, false
}

// parseEnv decodes an environ block written by appendEnv, for tests and
// fuzzing; the worker has its own decoder.
func parseEnv(b []byte, lp bool) ([]string, error) {
	var out []string
	if !lp {
		if len(b) == 0 {
			return nil, nil
		}
		start := 0
		for i := 0; i <= len(b); i++ {
			if i == len(b) || b[i] == 0 {
				out = append(out, string(b[start:i]))
				start = i + 1
			}
		}
	} else {
		for len(b) > 0 {
			if len(b) < 4 {
				return nil, errors.New("wsgi: truncated environ length")
			}
			n := binary.LittleEndian.Uint32(b)
			if uint64(n) > uint64(len(b)-4) {
				return nil, errors.New("wsgi: environ string overruns block")
			}
			out = append(out, string(b[4:4+n]))
			b = b[4+n:]
		}
	}
	if len(out)%2 != 0 {
		return nil, errors.New("wsgi: odd number of environ strings")
	}
	return out, nil
}

// decodePart decodes a frame of a response (HINTS, RESP, HEAD, DATA,
// FILE, END or ERROR) into the Part it carries. The Part does not alias payload. The
// file of a PartFile rides with the frame; the caller attaches it.
func decodePart(h frameHeader, payload []byte) (Part, error) {
	switch h.kind {
	case frameResp:
		p, body, err := decodeResp(payload)
		if err == nil {
			p.Data = append([]byte(nil), body...)
		}
		return p, err
	case frameHead:
		var size int64
		if h.flags&flagSized != 0 {
			if len(payload) < 8 {
				return Part{}, fmt.Errorf("%w: short HEAD", ErrProtocol)
			}
			size = int64(binary.LittleEndian.Uint64(payload))
			if size <= 0 {
				return Part{}, fmt.Errorf("%w: bad HEAD body length", ErrProtocol)
			}
			payload = payload[8:]
		}
		status, hdr, err := parseHead(payload)
		if err != nil {
			return Part{}, fmt.Errorf("%w: %v", ErrProtocol, err)
		}
		return Part{Kind: PartHead, Status: status, Header: hdr, Length: size}, nil
	case frameData:
		return Part{Kind: PartData, Data: append([]byte(nil), payload...)}, nil
	case frameFile:
		if len(payload) < 16 {
			return Part{}, fmt.Errorf("%w: short FILE", ErrProtocol)
		}
		off, count := int64(binary.LittleEndian.Uint64(payload)), int64(binary.LittleEndian.Uint64(payload[8:]))
		if off < 0 || count < 0 {
			return Part{}, fmt.Errorf("%w: bad FILE range %d+%d", ErrProtocol, off, count)
		}
		return Part{Kind: PartFile, Offset: off, Count: count}, nil
	case frameEnd:
		if h.flags&flagAbort != 0 {
			return Part{Kind: PartEnd, Err: ErrAppError, Traceback: string(payload)}, nil
		}
		return Part{Kind: PartEnd}, nil
	case frameError:
		return Part{Kind: PartEnd, Err: ErrAppError, Traceback: string(payload)}, nil
	case frameHints:
		hdr := splitNUL(payload)
		if len(payload) == 0 || len(hdr)%2 != 0 {
			return Part{}, fmt.Errorf("%w: malformed HINTS", ErrProtocol)
		}
		return Part{Kind: PartHints, Header: hdr}, nil
	}
	return Part{}, fmt.Errorf("%w: unknown frame type %d", ErrProtocol, h.kind)
}

// decodeResp decodes a RESP frame's payload: the response part without its
// body, and the body, which aliases payload.
func decodeResp(payload []byte) (Part, []byte, error) {
	if len(payload) < 4 {
		return Part{}, nil, fmt.Errorf("%w: short RESP", ErrProtocol)
	}
	n := binary.LittleEndian.Uint32(payload)
	if uint64(n) > uint64(len(payload)-4) {
		return Part{}, nil, fmt.Errorf("%w: bad RESP head length", ErrProtocol)
	}
	status, hdr, err := parseHead(payload[4 : 4+n])
	if err != nil {
		return Part{}, nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	return Part{Kind: PartResponse, Status: status, Header: hdr}, payload[4+n:], nil
}

// parseHead splits a response head block, "status\0name\0value\0...", as
// written by the worker.
func parseHead(b []byte) (status string, headers []string, err error) {
	parts := splitNUL(b)
	if len(parts)%2 != 1 {
		return "", nil, errors.New("wsgi: malformed response head")
	}
	return parts[0], parts[1:], nil
}

// splitNUL splits b at its NUL bytes. The strings are substrings of one
// copy of b: two allocations whatever the number of fields.
func splitNUL(b []byte) []string {
	s := string(b)
	out := make([]string, 0, 1+strings.Count(s, "\x00"))
	for {
		i := strings.IndexByte(s, 0)
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
}

// bufPool recycles byte buffers (encoded requests, request bodies being
// read). Buffers that grew past 256 KiB are dropped rather than kept. The
// zero value is ready to use.
type bufPool struct{ p sync.Pool }

func (bp *bufPool) get() *[]byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 4096)
	return &b
}

func (bp *bufPool) put(b *[]byte) {
	if cap(*b) <= 256<<10 {
		*b = (*b)[:0]
		bp.p.Put(b)
	}
}
