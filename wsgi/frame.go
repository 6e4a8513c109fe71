package wsgi

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Frame types. Go sends the first group, workers the second; keep in sync
// with worker.py.
const (
	frameReq    byte = 1 // environ block + inline body (or a body fd)
	frameCancel byte = 2 // the client went away: stop iterating
	frameFork   byte = 3 // to the zygote: fork a worker on the attached fds

	frameReady  byte = 16 // the app is imported: pid \0 version \0 executable
	frameFail   byte = 17 // the app could not be imported: traceback
	frameResp   byte = 18 // u32 head length | head | whole body
	frameHead   byte = 19 // head of a streamed response
	frameData   byte = 20 // a body chunk of a streamed response
	frameFile   byte = 21 // u64 offset | i64 count, a file descriptor attached
	frameEnd    byte = 22 // end of a streamed response (flags: abort, cancelled)
	frameError  byte = 23 // the app raised before sending headers: traceback
	frameLog    byte = 24 // a logging record: levelno \0 logger \0 message
	frameForked byte = 25 // from the zygote: u32 pid of the forked worker
	frameExited byte = 26 // from the zygote: pid \0 how a worker ended
)

// Frame flags.
const (
	flagBodyFD    byte = 1 // REQ: the body is a file descriptor (SCM_RIGHTS)
	flagEnvLP     byte = 2 // REQ: length-prefixed environ (a value holds NUL)
	flagAbort     byte = 1 // END: the app failed after headers were sent
	flagCancelled byte = 2 // END: iteration stopped after a CANCEL
)

const (
	// frameHeaderSize is the size of a frame header:
	// u8 type | u8 flags | u16 stream | u32 payload length, little endian.
	frameHeaderSize = 8
	// maxFrame bounds a frame's payload; larger request bodies are passed as
	// file descriptors and responses stream in chunks, so only a huge
	// environ or a huge single chunk could come near it.
	maxFrame = 1 << 30
)

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

// parseHead splits a response head block, "status\0name\0value\0...", as
// written by the worker.
func parseHead(b []byte) (status string, headers []string, err error) {
	parts := splitNUL(b)
	if len(parts)%2 != 1 {
		return "", nil, errors.New("wsgi: malformed response head")
	}
	return parts[0], parts[1:], nil
}

func splitNUL(b []byte) []string {
	n := 1
	for _, c := range b {
		if c == 0 {
			n++
		}
	}
	out := make([]string, 0, n)
	start := 0
	for i, c := range b {
		if c == 0 {
			out = append(out, string(b[start:i]))
			start = i + 1
		}
	}
	return append(out, string(b[start:]))
}
