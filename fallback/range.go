package fallback

import (
	"math"
	"net/http"
	"strconv"
	"strings"
)

// maxRanges is the most ranges a Range header may ask for; a request with
// more gets the whole file (200), as Apache answers beyond its MaxRanges
// (200 by default) and nginx beyond max_ranges (unlimited by default).
// http.ServeContent ignores ranges whose lengths add up to more than the
// file, but not many small ones: "bytes=0-0,1-1,..." made a file come
// back as one multipart part per byte, ~140 bytes of part headers each
// (a 1000-byte file as 145 KB). With the limit a multipart answer is at
// most the file plus 200 parts' headers; real clients (browsers, PDF
// readers, download managers) ask for a handful.
const maxRanges = 200

// satisfiableRange returns r with the Range header http.ServeContent would
// answer wrongly for a file of size bytes made right, or r itself when
// there is nothing to change (almost always). ServeContent answers a
// suffix range of length 0 ("bytes=-0", which RFC 9110 §14.1.1 calls
// unsatisfiable) with a 206 and "Content-Range: bytes 10-9/10", any
// range of an empty file with "bytes 0--1/0", and it accepts any number
// of ranges:
//   - a header with more than [maxRanges] ranges (empty ones and suffixes
//     of length 0 not counted) is removed: the file is sent whole, a 200;
//   - suffix ranges of length 0 are dropped; when no range is left, the
//     header is replaced by one starting past any file, which ServeContent
//     answers 416 with "Content-Range: bytes */size";
//   - for an empty file the header is removed: the file is sent whole, a
//     200 with no body (a server may ignore Range).
//
// The header is changed on a copy of r, after which ServeContent still
// evaluates the conditional headers first: a stale If-Range gets the whole
// file, a failed If-Match a 412.
func satisfiableRange(r *http.Request, size int64) *http.Request {
	v := r.Header.Get("Range")
	specs, ok := strings.CutPrefix(v, "bytes=")
	if !ok {
		return r // not a byte range: ServeContent ignores or refuses it
	}
	var kept []string
	dropped := false
	for spec := range strings.SplitSeq(specs, ",") {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue
		}
		if n, ok := strings.CutPrefix(spec, "-"); ok && n != "" && strings.Trim(n, "0") == "" {
			dropped = true
			continue
		}
		kept = append(kept, spec)
	}
	if !dropped && size > 0 && len(kept) <= maxRanges {
		return r
	}
	r2 := r.Clone(r.Context())
	switch {
	case size == 0 || len(kept) > maxRanges:
		r2.Header.Del("Range")
	case len(kept) == 0:
		r2.Header.Set("Range", "bytes="+strconv.FormatInt(math.MaxInt64, 10)+"-")
	default:
		r2.Header.Set("Range", "bytes="+strings.Join(kept, ","))
	}
	return r2
}
