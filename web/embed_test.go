package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// get serves one request through a mux mounted the way the server mounts it.
func get(t *testing.T, method, target string, header http.Header) *http.Response {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(Prefix, Handler())
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assetLinks are the bundle files index.html loads.
var assetLinks = regexp.MustCompile(`(?:href|src)="(assets/[^"]+)"`)

func TestIndexForAnyValidEvent(t *testing.T) {
	for _, target := range []string{"/e/demo", "/e/tour-2026.london_1", "/e/assets", "/e/demo?join_token=h.p.s"} {
		res := get(t, http.MethodGet, target, nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", target, res.StatusCode)
		}
		h := res.Header
		if got := h.Get("Content-Type"); got != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", target, got)
		}
		if got := h.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("%s: Cache-Control %q", target, got)
		}
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", target, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP allows unsafe sources: %q", target, csp)
		}
		if !strings.Contains(body(t, res), `<main class="card" id="app"`) {
			t.Errorf("%s: not the waiting-room page", target)
		}
	}
}

func TestNotFound(t *testing.T) {
	for _, target := range []string{
		"/e/",
		"/e/bad%20id",
		"/e/" + strings.Repeat("x", 65),
		"/e/demo/extra",
		"/e/assets/missing.js",
		"/e/assets/",
		"/elsewhere",
	} {
		res := get(t, http.MethodGet, target, nil)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", target, res.StatusCode)
		}
	}
}

func TestTrailingSlashRedirects(t *testing.T) {
	// The query carries the shop's join token through to the page.
	res := get(t, http.MethodGet, "/e/demo/?join_token=h.p.s&ref=mail", nil)
	if res.StatusCode != http.StatusMovedPermanently {
		t.Fatalf("status %d, want 301", res.StatusCode)
	}
	if got := res.Header.Get("Location"); got != "/e/demo?join_token=h.p.s&ref=mail" {
		t.Errorf("Location %q", got)
	}
}

func TestOnlyGetAndHead(t *testing.T) {
	res := get(t, http.MethodPost, "/e/demo", nil)
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: status %d, Allow %q", res.StatusCode, res.Header.Get("Allow"))
	}
	res = get(t, http.MethodHead, "/e/demo", nil)
	if res.StatusCode != http.StatusOK || body(t, res) != "" {
		t.Errorf("HEAD: status %d", res.StatusCode)
	}
}

func TestAssetsAreImmutableAndCompressed(t *testing.T) {
	index := body(t, get(t, http.MethodGet, "/e/demo", nil))
	links := assetLinks.FindAllStringSubmatch(index, -1)
	if len(links) < 2 {
		t.Fatalf("index.html links %d assets, want a script and a stylesheet", len(links))
	}
	for _, l := range links {
		target := "/e/" + l[1]
		plain := get(t, http.MethodGet, target, nil)
		if plain.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", target, plain.StatusCode)
		}
		if got := plain.Header.Get("Cache-Control"); !strings.Contains(got, "immutable") {
			t.Errorf("%s: Cache-Control %q", target, got)
		}
		if got := plain.Header.Get("Content-Encoding"); got != "" {
			t.Errorf("%s: Content-Encoding %q without Accept-Encoding", target, got)
		}
		want := body(t, plain)

		zipped := get(t, http.MethodGet, target, http.Header{"Accept-Encoding": {"br, gzip"}})
		if zipped.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s: not gzipped for a client that accepts it", target)
		}
		if !strings.Contains(zipped.Header.Get("Vary"), "Accept-Encoding") {
			t.Errorf("%s: no Vary: Accept-Encoding", target)
		}
		zr, err := gzip.NewReader(zipped.Body)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, []byte(want)) {
			t.Errorf("%s: gzipped body differs from the plain one", target)
		}

		refused := get(t, http.MethodGet, target, http.Header{"Accept-Encoding": {"gzip;q=0"}})
		if refused.Header.Get("Content-Encoding") != "" {
			t.Errorf("%s: gzipped although the client refused it", target)
		}
	}
}

func TestConditionalGet(t *testing.T) {
	res := get(t, http.MethodGet, "/e/demo", nil)
	tag := res.Header.Get("ETag")
	if tag == "" {
		t.Fatal("no ETag on index.html")
	}
	again := get(t, http.MethodGet, "/e/other", http.Header{"If-None-Match": {tag}})
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d, want 304", again.StatusCode)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for v, want := range map[string]bool{
		"":                 false,
		"gzip":             true,
		"GZIP":             true,
		"deflate, gzip":    true,
		"gzip;q=0":         false,
		"gzip; q=0.000":    false,
		"gzip;q=0.5":       true,
		"br":               false,
		"x-gzip":           false,
		"identity, br;q=1": false,
	} {
		if got := acceptsGzip([]string{v}); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", v, got, want)
		}
	}
}
