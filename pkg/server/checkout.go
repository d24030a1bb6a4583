package server

import (
	_ "embed"
	"net/http"
)

// defaultCheckoutURL is CHECKOUT_URL's default. While it is in use, the server
// serves a demo checkout page there, so the whole flow works from one
// `go run`; a real deployment points CHECKOUT_URL at its checkout service.
const defaultCheckoutURL = "/checkout"

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
