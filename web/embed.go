// Package web serves the browser pages: the waiting room and the operators'
// dashboard, static bundles built from the TypeScript in this folder and
// committed in dist/, so the Go build needs no Node. Mount them with
// mux.Handle("/e/", web.Handler()) and AdminPatterns with AdminHandler().
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"
)

//go:embed dist
var dist embed.FS

// Prefix is where the page lives: /e/<event_id>, assets under /e/assets/.
const Prefix = "/e/"

// eventID matches the server's own rule for event ids, so a page is only
// served for an id the API would accept.
var eventID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// The page may talk to its own origin and nothing else; no inline code.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; " +
	"form-action 'none'; frame-ancestors 'none'"

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".txt":  "text/plain; charset=utf-8",
	".png":  "image/png",
	".svg":  "image/svg+xml",
}

// file is one embedded file, ready to serve: its bytes, a gzipped copy when
// that is smaller, and strong ETags for both.
type file struct {
	contentType string
	plain, gz   []byte
	etag, gzTag string
}

type handler struct {
	index  *file
	assets map[string]*file
}

// Handler serves the page at /e/<event_id> (any valid event id) and its
// assets at /e/assets/<name>. Everything else under /e/ is a 404.
func Handler() http.Handler {
	return load()
}

var load = sync.OnceValue(func() *handler { return loadPage("dist") })

// loadPage reads one page of the bundle: dir/index.html and dir/assets/*.
func loadPage(dir string) *handler {
	// The bundle is compiled in; a missing one is a broken build, not a runtime condition.
	broken := "web: embedded " + dir + "/ is incomplete: run `npm run build` in web/"
	index, err := dist.ReadFile(dir + "/index.html")
	if err != nil {
		panic(broken)
	}
	entries, err := fs.ReadDir(dist, dir+"/assets")
	if err != nil {
		panic(broken)
	}
	h := &handler{index: newFile("index.html", index), assets: map[string]*file{}}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := dist.ReadFile(dir + "/assets/" + e.Name())
		if err != nil {
			panic(broken)
		}
		h.assets[e.Name()] = newFile(e.Name(), data)
	}
	return h
}

func newFile(name string, data []byte) *file {
	ct, ok := contentTypes[path.Ext(name)]
	if !ok {
		ct = "application/octet-stream"
	}
	sum := sha256.Sum256(data)
	tag := base64.RawURLEncoding.EncodeToString(sum[:12])
	f := &file{contentType: ct, plain: data, etag: `"` + tag + `"`}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(data)
	zw.Close()
	if buf.Len() < len(data) {
		f.gz = buf.Bytes()
		f.gzTag = `"` + tag + `-gz"`
	}
	return f
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		notFound(w)
		return
	}
	if name, ok := strings.CutPrefix(rest, "assets/"); ok {
		f := h.assets[name]
		if f == nil {
			notFound(w)
			return
		}
		// Asset names carry a content hash: a new build is a new URL.
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		serve(w, r, f)
		return
	}
	if id, ok := strings.CutSuffix(rest, "/"); ok && eventID.MatchString(id) {
		// The page's relative asset URLs need /e/<id>, not /e/<id>/.
		target := Prefix + id
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusMovedPermanently)
		return
	}
	if !eventID.MatchString(rest) {
		notFound(w)
		return
	}
	hd := w.Header()
	// Revalidate every time, so a deploy reaches visitors on their next load.
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Content-Security-Policy", pageCSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	serve(w, r, h.index)
}

// serve answers with the gzipped copy when the client takes it; ServeContent
// handles HEAD, conditional requests and ranges.
func serve(w http.ResponseWriter, r *http.Request, f *file) {
	hd := w.Header()
	hd.Set("Content-Type", f.contentType)
	hd.Add("Vary", "Accept-Encoding")
	body, tag := f.plain, f.etag
	if f.gz != nil && acceptsGzip(r.Header.Values("Accept-Encoding")) {
		body, tag = f.gz, f.gzTag
		hd.Set("Content-Encoding", "gzip")
	}
	hd.Set("ETag", tag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reads Accept-Encoding, honouring an explicit "gzip;q=0".
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

const notFoundPage = `<!doctype html>
<html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Event not found · Waiting room</title>
<h1>We couldn't find this event</h1>
<p>Check the link you followed: the address may be mistyped, or the sale may be over.</p>
</html>
`

func notFound(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", "default-src 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusNotFound)
	w.Write([]byte(notFoundPage))
}
