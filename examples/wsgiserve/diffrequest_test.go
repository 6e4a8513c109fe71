package main

import (
	"fmt"
	"strings"
)

// The raw HTTP/1.1 requests the differentials send alike to graft and
// to each peer.

// diffGet is a GET of target with the header lines hs (no blank line:
// the differential adds its Host and ends the head).
func diffGet(target string, hs ...string) string {
	return strings.Join(append([]string{"GET " + target + " HTTP/1.1"}, hs...), "\r\n")
}

// diffPost is a POST of body to path with its Content-Type and
// Content-Length, and the header lines hs.
func diffPost(path, ctype, body string, hs ...string) string {
	h := ""
	for _, l := range hs {
		h += l + "\r\n"
	}
	return fmt.Sprintf("POST %s HTTP/1.1\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n%s", path, ctype, len(body), h, body)
}

// diffChunked is a POST of body to path, chunked in pieces of 1000 bytes.
func diffChunked(path, ctype, body string) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n%s", path, ctype, chunkedBody(body, 1000))
}

// chunkedBody is body as a chunked request body, in pieces of n bytes.
func chunkedBody(body string, n int) string {
	var b strings.Builder
	for len(body) > 0 {
		c := body[:min(n, len(body))]
		body = body[len(c):]
		fmt.Fprintf(&b, "%x\r\n%s\r\n", len(c), c)
	}
	return b.String() + "0\r\n\r\n"
}
