package hdrname

import (
	"net/http"
	"strings"
)

// AddVary adds name (a request header name, such as "Cookie") to h's Vary
// header unless Vary lists it already, in any letter case, or lists "*":
// the one rule for the responses graft builds from a request header (a
// session or CSRF cookie, the identity a cookie stands for), so that a
// shared cache never gives one user's answer to another.
func AddVary(h http.Header, name string) {
	for _, line := range h.Values("Vary") {
		for v := range strings.SplitSeq(line, ",") {
			if v = strings.TrimSpace(v); strings.EqualFold(v, name) || v == "*" {
				return
			}
		}
	}
	h.Add("Vary", name)
}
