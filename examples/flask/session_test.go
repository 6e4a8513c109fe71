package main

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// TestGoReadsFlaskCart sets the cart in Flask (the product form) and reads
// it from Go's GET /shop/api/cart, through the same cookie.
func TestGoReadsFlaskCart(t *testing.T) {
	srv, _ := startShop(t, "/shop")
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}

	cartOf := func() (status int, v struct {
		Cart  map[string]int `json:"cart"`
		Count int            `json:"count"`
		User  *string        `json:"user"`
	}) {
		t.Helper()
		r := do(t, c, "GET", srv.URL+"/shop/api/cart", "", "")
		if r.header.Get("X-Served-By") != "go" {
			t.Fatalf("GET /shop/api/cart served by %q, want go", r.header.Get("X-Served-By"))
		}
		if r.status == 200 {
			if err := json.Unmarshal([]byte(r.body), &v); err != nil {
				t.Fatalf("%v: %q", err, r.body)
			}
		}
		return r.status, v
	}
	if status, v := cartOf(); status != 200 || len(v.Cart) != 0 || v.Count != 0 || v.User != nil {
		t.Fatalf("empty cart: %d %+v", status, v)
	}
	for _, f := range []url.Values{{"product": {"1"}, "quantity": {"2"}}, {"product": {"3"}, "quantity": {"1"}}} {
		if r := do(t, c, "POST", srv.URL+"/shop/cart", "application/x-www-form-urlencoded", f.Encode()); r.status != 200 || r.header.Get("X-Served-By") != "python" {
			t.Fatalf("POST /shop/cart (Flask): %d %v", r.status, r.header)
		}
	}
	status, v := cartOf()
	if status != 200 || v.Count != 3 || v.Cart["1"] != 2 || v.Cart["3"] != 1 || len(v.Cart) != 2 {
		t.Errorf("cart set by Flask, read by Go: %d %+v; want {1: 2, 3: 1}", status, v)
	}

	// A tampered session cookie is an error, never decoded.
	u, _ := url.Parse(srv.URL + "/shop/")
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "session" {
			bad, _ := cookiejar.New(nil)
			bad.SetCookies(u, []*http.Cookie{{Name: "session", Value: "x" + ck.Value, Path: "/"}})
			r := do(t, &http.Client{Jar: bad}, "GET", srv.URL+"/shop/api/cart", "", "")
			if r.status != 400 || !strings.Contains(r.body, "session: ") {
				t.Errorf("tampered cookie: %d %q, want 400 with the error", r.status, r.body)
			}
		}
	}
}

// TestGoLoginFlaskPages logs in through Go and loads Flask pages, which
// see the user, with the cart Flask set before the login kept.
func TestGoLoginFlaskPages(t *testing.T) {
	srv, _ := startShop(t, "/shop")
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	form := "application/x-www-form-urlencoded"

	if r := do(t, c, "GET", srv.URL+"/shop/account", "", ""); !strings.Contains(r.body, "Not logged in") {
		t.Fatalf("Flask account page before login: %d %q", r.status, r.body)
	}
	if r := do(t, c, "GET", srv.URL+"/shop/", "", ""); !strings.Contains(r.body, `href="/shop/login"`) {
		t.Errorf("the Flask nav has no link to Go's login: %q", r.body)
	}
	do(t, c, "POST", srv.URL+"/shop/cart", form, "product=2&quantity=1")

	r := do(t, c, "GET", srv.URL+"/shop/login", "", "")
	if r.status != 200 || r.header.Get("X-Served-By") != "go" || !strings.Contains(r.body, `action="/shop/login"`) {
		t.Fatalf("GET /shop/login: %d %v %q", r.status, r.header, r.body)
	}
	for _, bad := range []string{"username=alice&password=nope", "username=mallory&password=wonderland", ""} {
		if r := do(t, c, "POST", srv.URL+"/shop/login", form, bad); r.status != 401 || !strings.Contains(r.body, "wrong password") {
			t.Errorf("POST /shop/login %q: %d %q, want 401", bad, r.status, r.body)
		}
	}
	r = do(t, c, "POST", srv.URL+"/shop/login", form, "username=alice&password=wonderland")
	if r.status != 200 || r.header.Get("X-Served-By") != "python" {
		t.Fatalf("POST /shop/login then the redirect: %d %v %q; want Flask's account page", r.status, r.header, r.body)
	}
	for _, want := range []string{"Logged in as <strong>alice</strong>", `Signed in as <span id="user">alice</span>`, "Cart (1)"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("Flask's account page after Go's login has no %q:\n%s", want, r.body)
		}
	}
	// Flask keeps writing the session Go started, and Go keeps reading it.
	do(t, c, "POST", srv.URL+"/shop/cart", form, "product=1&quantity=2")
	if r := do(t, c, "GET", srv.URL+"/shop/api/cart", "", ""); !strings.Contains(r.body, `"count":3`) || !strings.Contains(r.body, `"user":"alice"`) {
		t.Errorf("GET /shop/api/cart after login: %q", r.body)
	}
	if r := do(t, c, "GET", srv.URL+"/shop/cart", "", ""); !strings.Contains(r.body, `Signed in as <span id="user">alice</span>`) || !strings.Contains(r.body, "Cart (3)") {
		t.Errorf("Flask's cart page after login: %q", r.body)
	}

	r = do(t, c, "POST", srv.URL+"/shop/logout", form, "")
	if !strings.Contains(r.body, "Not logged in") || !strings.Contains(r.body, "Cart (3)") {
		t.Errorf("Flask's account page after Go's logout: %q", r.body)
	}
}
