// Package negotiate holds graft's one rule for content negotiation (RFC
// 9110 §12): the q-value of an item of Accept or Accept-Encoding (Weight),
// and the choice among a handler's media types by the Accept header
// (Media). q=0 means "not acceptable"; a malformed q-value counts as 0.
package negotiate

import (
	"slices"
	"strings"
)

// Weight returns the q-value among the parameters of one item of an
// Accept or Accept-Encoding field ("q=0.5", "level=1; q=0.8"; the part
// after the item's first ";"): 1 when there is none, 0 when it is
// malformed. RFC 9110 §12.4.2 allows "0" or "1" with up to three decimals
// (0, 0.5, 0.125, 1.000); a missing leading digit (".5", as Java sends) is
// accepted too; anything else (2, 1.5, 0.0001, 1e-3, NaN) is malformed.
func Weight(params string) float64 {
	q, _, _ := weight(params)
	return q
}

// weight returns the q-value of params as Weight does, the media-type
// parameters that come before it (for Accept), and whether there was a q.
func weight(params string) (q float64, media []string, found bool) {
	for p := range strings.SplitSeq(params, ";") {
		k, v, _ := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if !strings.EqualFold(k, "q") {
			if k != "" {
				media = append(media, strings.ToLower(k)+"="+strings.ToLower(strings.Trim(strings.TrimSpace(v), `"`)))
			}
			continue
		}
		// What follows q are accept-ext parameters, not the media type's.
		q, ok := parseQ(strings.TrimSpace(v))
		if !ok {
			return 0, media, true
		}
		return q, media, true
	}
	return 1, media, false
}

// parseQ parses a qvalue: "0" or "1", with up to three decimals, or ".5".
func parseQ(v string) (float64, bool) {
	ip, fp, dot := strings.Cut(v, ".")
	if ip != "0" && ip != "1" && !(ip == "" && dot && fp != "") || len(fp) > 3 {
		return 0, false
	}
	thousandths := 0
	if ip == "1" {
		thousandths = 1000
	}
	for i, scale := 0, 100; i < len(fp); i, scale = i+1, scale/10 {
		if fp[i] < '0' || fp[i] > '9' {
			return 0, false
		}
		thousandths += int(fp[i]-'0') * scale
	}
	if thousandths > 1000 {
		return 0, false
	}
	return float64(thousandths) / 1000, true
}

// Media returns the offer that the Accept field values accept best, or ""
// when the field accepts none of them. offers are media types
// ("text/html", "application/json"), in the handler's order of
// preference, which breaks ties; one may carry parameters
// ("text/html;charset=utf-8") that a media range naming them must match.
// No Accept field, or one without a single media range (empty, or
// malformed throughout), is no preference: the first offer.
//
// Each offer gets the q-value of the most specific media range that
// matches it (RFC 9110 §12.5.1: "text/html;level=1" before "text/html"
// before "text/*" before "*/*"; among ranges equally specific, the lowest,
// so that a refusal wins), or 0 when none does; q=0 is not acceptable.
// A lone "*" (old Java clients) is "*/*"; an item that is not a media
// range ("json", "*/json") is ignored.
func Media(values []string, offers ...string) string {
	type rng struct {
		typ, sub string
		params   []string
		q        float64
	}
	var ranges []rng
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			mt, params, _ := strings.Cut(item, ";")
			mt = strings.ToLower(strings.TrimSpace(mt))
			if mt == "" {
				continue
			}
			if mt == "*" {
				mt = "*/*"
			}
			typ, sub, ok := strings.Cut(mt, "/")
			if !ok || typ == "" || sub == "" || typ == "*" && sub != "*" {
				continue
			}
			q, mp, _ := weight(params)
			ranges = append(ranges, rng{typ, sub, mp, q})
		}
	}
	if len(ranges) == 0 {
		if len(offers) == 0 {
			return ""
		}
		return offers[0]
	}
	best, bestQ := "", 0.0
	for _, offer := range offers {
		mt, params, _ := strings.Cut(offer, ";")
		typ, sub, _ := strings.Cut(strings.ToLower(strings.TrimSpace(mt)), "/")
		_, op, _ := weight(params)
		spec, q := 0, 0.0
		for _, r := range ranges {
			s := 0
			switch {
			case r.typ == "*":
				s = 1
			case r.typ != typ:
				continue
			case r.sub == "*":
				s = 2
			case r.sub != sub:
				continue
			default:
				s = 3 + len(r.params)
				if !containsAll(op, r.params) {
					continue
				}
			}
			if s > spec || s == spec && r.q < q {
				spec, q = s, r.q
			}
		}
		if q > bestQ {
			best, bestQ = offer, q
		}
	}
	return best
}

// containsAll reports whether have holds every parameter of want.
func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
