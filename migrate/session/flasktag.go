package session

import (
	"encoding"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"time"

	"github.com/google/uuid"
)

// Tuple is a Python tuple in a Flask session (tag " t"). Flask's tagged
// JSON keeps tuples apart from lists; decoding gives a Tuple, and encoding
// a Tuple gives Python a tuple back.
type Tuple []any

// Markup is a markupsafe.Markup string in a Flask session (tag " m"):
// HTML that Jinja does not escape again.
type Markup string

// Flask's tags (flask/json/tag.py).
const (
	tagDict     = " di"
	tagTuple    = " t"
	tagBytes    = " b"
	tagMarkup   = " m"
	tagUUID     = " u"
	tagDateTime = " d"
)

func isTag(k string) bool {
	switch k {
	case tagDict, tagTuple, tagBytes, tagMarkup, tagUUID, tagDateTime:
		return true
	}
	return false
}

// untag turns a decoded JSON tree into Flask's values, bottom up like
// Flask's object_hook: a one-key object whose key is a tag is the tagged
// value.
func untag(v any) (any, error) {
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			u, err := untag(e)
			if err != nil {
				return nil, err
			}
			v[i] = u
		}
		return v, nil
	case map[string]any:
		for k, e := range v {
			u, err := untag(e)
			if err != nil {
				return nil, err
			}
			v[k] = u
		}
		if len(v) != 1 {
			return v, nil
		}
		for k, e := range v {
			if !isTag(k) {
				return v, nil
			}
			return untagOne(k, e)
		}
	}
	return v, nil
}

func untagOne(tag string, v any) (any, error) {
	bad := func(what string) error {
		return fmt.Errorf("%w: Flask tag %q holds %s", ErrPayload, tag, what)
	}
	switch tag {
	case tagDict:
		m, ok := v.(map[string]any)
		if !ok || len(m) != 1 {
			return nil, bad("no one-key object")
		}
		for k, e := range m {
			if len(k) < 2 {
				return nil, bad("a key too short")
			}
			return map[string]any{k[:len(k)-2]: e}, nil
		}
	case tagTuple:
		a, ok := v.([]any)
		if !ok {
			return nil, bad("no array")
		}
		return Tuple(a), nil
	case tagBytes:
		s, ok := v.(string)
		if !ok {
			return nil, bad("no string")
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, bad("bad base64")
		}
		return b, nil
	case tagMarkup:
		s, ok := v.(string)
		if !ok {
			return nil, bad("no string")
		}
		return Markup(s), nil
	case tagUUID:
		s, ok := v.(string)
		if !ok {
			return nil, bad("no string")
		}
		u, err := uuid.Parse(s)
		if err != nil {
			return nil, bad("a bad UUID")
		}
		return u, nil
	case tagDateTime:
		s, ok := v.(string)
		if !ok {
			return nil, bad("no string")
		}
		t, err := http.ParseTime(s)
		if err != nil {
			return nil, bad("a bad HTTP date")
		}
		return t.UTC(), nil
	}
	return nil, bad("an unknown tag")
}

// maxDepth bounds the nesting of the values tag encodes. Flask's own
// tagged JSON serializer fails (RecursionError) on sessions nested
// about 400 levels deep, and loading one nested about 1000 deep fails
// with BadPayload, which Flask's session interface does not catch: every
// Python page would answer 500 to that user. A Go value that holds
// itself would otherwise recurse until the Go process crashes.
const maxDepth = 256

// tag turns Go values into Flask's tagged JSON tree, as Flask's
// TaggedJSONSerializer.tag does for the Python values they stand for.
// Values of other types go through encoding/json first.
func tag(v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("session: cannot encode the session: nested deeper than %d levels (a value that holds itself?); Flask cannot read it back", maxDepth)
	}
	depth++
	switch v := v.(type) {
	case nil, bool, string, json.Number, float64, float32,
		int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return v, nil
	case Tuple:
		a, err := tagSlice(v, depth)
		if err != nil {
			return nil, err
		}
		return map[string]any{tagTuple: a}, nil
	case []byte:
		return map[string]any{tagBytes: base64.StdEncoding.EncodeToString(v)}, nil
	case Markup:
		return map[string]any{tagMarkup: string(v)}, nil
	case uuid.UUID:
		return map[string]any{tagUUID: hex.EncodeToString(v[:])}, nil
	case time.Time:
		// Flask stores an HTTP date, whose parser (email.utils) reads
		// years below 100 as 19xx or 20xx, and years past 9999 not at
		// all (None): the zero time.Time would come back as 2001.
		if y := v.UTC().Year(); y < 100 || y > 9999 {
			return nil, fmt.Errorf("session: cannot encode the time %s: Flask reads only years 100 to 9999 back (the zero time.Time would be 2001)", v.UTC().Format(time.RFC3339))
		}
		return map[string]any{tagDateTime: v.UTC().Format(http.TimeFormat)}, nil
	case []any:
		return tagSlice(v, depth)
	case Session:
		return tagMap(v, depth)
	case map[string]any:
		return tagMap(v, depth)
	}
	if t, ok, err := tagContainer(v, depth); ok {
		return t, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("session: cannot encode a %T: %w", v, err)
	}
	g, err := decodeJSON(b)
	if err != nil {
		return nil, fmt.Errorf("session: cannot encode a %T: %w", v, err)
	}
	return tag(g, depth)
}

// tagContainer tags the elements of a slice, array or string-keyed map
// of another type than []any and map[string]any ([]uuid.UUID, []Tuple,
// map[string]time.Time ...) one by one, as tag does those of []any, so
// that they reach Python as the same typed values as in a []any: through
// encoding/json they would become strings and lists. It reports false
// for other values, and for types with their own JSON or text encoding
// (json.RawMessage, net.IP ...), which go through encoding/json.
func tagContainer(v any, depth int) (any, bool, error) {
	switch v.(type) {
	case json.Marshaler, encoding.TextMarshaler:
		return nil, false, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice:
		if rv.IsNil() {
			return nil, true, nil // encoding/json's null
		}
		fallthrough
	case reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return nil, false, nil // encoding/json's base64 string
		}
		a := make([]any, rv.Len())
		for i := range a {
			a[i] = rv.Index(i).Interface()
		}
		t, err := tagSlice(a, depth)
		return t, true, err
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, false, nil
		}
		if rv.IsNil() {
			return nil, true, nil
		}
		m := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			m[it.Key().String()] = it.Value().Interface()
		}
		t, err := tagMap(m, depth)
		return t, true, err
	}
	return nil, false, nil
}

func tagSlice(v []any, depth int) ([]any, error) {
	out := make([]any, len(v))
	for i, e := range v {
		t, err := tag(e, depth)
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

func tagMap(v map[string]any, depth int) (any, error) {
	out := make(map[string]any, len(v))
	for k, e := range v {
		t, err := tag(e, depth)
		if err != nil {
			return nil, err
		}
		out[k] = t
	}
	if len(v) == 1 {
		for k := range v {
			if isTag(k) {
				// A dict whose only key looks like a tag (TagDict).
				return map[string]any{tagDict: map[string]any{k + "__": out[k]}}, nil
			}
		}
	}
	return out, nil
}
