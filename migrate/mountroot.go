package migrate

import (
	"net/http"
	"strings"
)

// atMountRoot handles a request whose path http.StripPrefix left without
// its leading slash: the admin handler or the console mounted under a
// prefix. net/http's ServeMux would redirect such a path to the same one
// from the site's root, outside the prefix. A path that is left, as
// StripPrefix("/admin/") leaves "routes" of "/admin/routes", gets its
// slash back in the returned request ("/routes"), and so does the empty
// path of "/admin/" ("/"). The prefix opened without its trailing slash
// ("/admin" under StripPrefix("/admin"), which leaves "") is redirected
// (307) to itself with the slash, relative to where it is ("./admin/"),
// so that the console's relative forms post under the prefix; done is
// then true.
func atMountRoot(w http.ResponseWriter, r *http.Request) (_ *http.Request, done bool) {
	if strings.HasPrefix(r.URL.Path, "/") {
		return r, false
	}
	sent, _, _ := strings.Cut(r.RequestURI, "?")
	if r.URL.Path == "" && sent != "" && !strings.HasSuffix(sent, "/") {
		loc := "./" + sent[strings.LastIndexByte(sent, '/')+1:] + "/"
		if r.URL.RawQuery != "" {
			loc += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", loc)
		w.Header().Set("Content-Length", "0") // for a HEAD too, as a GET gets it
		w.WriteHeader(http.StatusTemporaryRedirect)
		return r, true
	}
	u := *r.URL
	u.Path = "/" + u.Path
	if u.RawPath != "" {
		u.RawPath = "/" + u.RawPath
	}
	r2 := r.WithContext(r.Context())
	r2.URL = &u
	return r2, false
}
