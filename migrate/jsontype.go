package migrate

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// typeMismatch says, for people, that the JSON value of key is not of the
// type key takes (want, the Go type decoded into), instead of
// encoding/json's "cannot unmarshal string into Go value of type
// float64", which names neither the key nor a JSON type.
func typeMismatch(key string, want reflect.Type, te *json.UnmarshalTypeError) string {
	for want.Kind() == reflect.Pointer { // *bool: true, false or left out
		want = want.Elem()
	}
	if n, ok := strings.CutPrefix(te.Value, "number "); ok && isNumber(want) {
		return fmt.Sprintf("%q: %s is out of range", key, n)
	}
	found, _, _ := strings.Cut(te.Value, " ") // "number -5": the kind alone
	return fmt.Sprintf("%q must be %s, not %s %s", key, jsonTypeName(want), article(found), found)
}

func isNumber(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// jsonTypeName names the JSON value that decodes into t.
func jsonTypeName(t reflect.Type) string {
	switch {
	case t.Kind() == reflect.Bool:
		return "true or false"
	case isNumber(t):
		return "a number"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return "an array of strings"
	case t.Kind() == reflect.Slice:
		return "an array"
	}
	return "an object"
}

func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}
