package server

import (
	_ "embed"
	"net/http"

	"github.com/waitroom/waitroom/pkg/queue"
)

// demoCheckoutPath is where the demo checkout page is served: the default
// checkout URL.
const demoCheckoutPath = queue.DefaultCheckoutURL

// servesDemoCheckout says whether admitted visitors go to this server's own
// demo checkout page: while the checkout URL is the default, so the whole
// flow works from one `go run`. A real deployment points the checkout URL
// (CHECKOUT_URL) at its checkout service.
func servesDemoCheckout(cfg Config) bool {
	return cfg.Queue.CheckoutURL == "" || cfg.Queue.CheckoutURL == queue.DefaultCheckoutURL
}

//go:embed checkout.html
var checkoutPage []byte

func demoCheckout(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	w.Write(checkoutPage)
}
