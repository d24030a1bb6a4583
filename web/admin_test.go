package web

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// getAdmin serves one request through a mux mounted the way the server mounts both pages.
func getAdmin(t *testing.T, method, target string) *http.Response {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(Prefix, Handler())
	for _, p := range AdminPatterns {
		mux.Handle(p, AdminHandler())
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec.Result()
}

var adminAssetLinks = regexp.MustCompile(`(?:href|src)="(admin/assets/[^"]+)"`)

func TestAdminPage(t *testing.T) {
	res := getAdmin(t, http.MethodGet, "/admin")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	h := res.Header
	if got := h.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", got)
	}
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "connect-src 'self'", "frame-ancestors 'none'", "form-action 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if h.Get("Referrer-Policy") != "no-referrer" || h.Get("Cache-Control") != "no-cache" {
		t.Errorf("Referrer-Policy %q, Cache-Control %q", h.Get("Referrer-Policy"), h.Get("Cache-Control"))
	}
	page := body(t, res)
	if !strings.Contains(page, `id="signin"`) {
		t.Fatal("not the dashboard")
	}
	links := adminAssetLinks.FindAllStringSubmatch(page, -1)
	if len(links) != 2 {
		t.Fatalf("the dashboard links %d assets under admin/assets/, want a script and a stylesheet", len(links))
	}
	for _, l := range links {
		a := getAdmin(t, http.MethodGet, "/"+l[1])
		if a.StatusCode != http.StatusOK || !strings.Contains(a.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("%s: status %d, Cache-Control %q", l[1], a.StatusCode, a.Header.Get("Cache-Control"))
		}
		// Each page serves its own assets only.
		if other := getAdmin(t, http.MethodGet, "/e/"+strings.TrimPrefix(l[1], "admin/")); other.StatusCode != http.StatusNotFound {
			t.Errorf("the visitor page serves the dashboard's %s: status %d", l[1], other.StatusCode)
		}
	}
}

func TestAdminPageKeepsTheVisitorPageApart(t *testing.T) {
	visitor := body(t, getAdmin(t, http.MethodGet, "/e/demo"))
	for _, l := range assetLinks.FindAllStringSubmatch(visitor, -1) {
		if res := getAdmin(t, http.MethodGet, "/admin/"+l[1]); res.StatusCode != http.StatusNotFound {
			t.Errorf("the dashboard serves the visitor page's %s: status %d", l[1], res.StatusCode)
		}
	}
}

func TestAdminRoutes(t *testing.T) {
	res := getAdmin(t, http.MethodGet, "/admin/?x=1")
	if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/admin?x=1" {
		t.Errorf("/admin/: status %d, Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	for _, target := range []string{"/admin/other", "/admin/assets/", "/admin/assets/missing.js", "/administrator"} {
		if res := getAdmin(t, http.MethodGet, target); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", target, res.StatusCode)
		}
	}
	res = getAdmin(t, http.MethodPost, "/admin")
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: status %d, Allow %q", res.StatusCode, res.Header.Get("Allow"))
	}
}
