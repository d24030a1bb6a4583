package web

import (
	"net/http"
	"strings"
	"sync"
)

// AdminPath is where the operators' dashboard lives; its assets are under
// AdminPath + "/assets/".
const AdminPath = "/admin"

// AdminPatterns are the ServeMux patterns to mount AdminHandler on: the page
// itself and everything under it.
var AdminPatterns = []string{AdminPath, AdminPath + "/"}

var loadAdmin = sync.OnceValue(func() *adminHandler { return &adminHandler{loadPage("dist/admin")} })

// AdminHandler serves the operators' dashboard at /admin and its assets at
// /admin/assets/<name>. The page holds no secret: it asks for the admin
// token and calls EventAdminService with it, which checks it.
func AdminHandler() http.Handler {
	return loadAdmin()
}

type adminHandler struct{ page *handler }

func (h *adminHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, AdminPath)
	switch {
	case !ok:
		http.NotFound(w, r)
	case rest == "":
		hd := w.Header()
		hd.Set("Cache-Control", "no-cache")
		hd.Set("Content-Security-Policy", pageCSP)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("X-Robots-Tag", "noindex")
		serve(w, r, h.page.index)
	case rest == "/":
		// The page's relative asset URLs need /admin, not /admin/.
		target := AdminPath
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusMovedPermanently)
	case strings.HasPrefix(rest, "/assets/"):
		f := h.page.assets[strings.TrimPrefix(rest, "/assets/")]
		if f == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		serve(w, r, f)
	default:
		http.NotFound(w, r)
	}
}
