package api

import (
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the networks of trusted proxies: from them, and only from
// them, X-Forwarded-For or Forwarded names the client. Every per-address
// limit finds the client's address through them.
type Proxies []netip.Prefix

// Client is the client's address: the socket peer, or, when the peer is a
// trusted proxy, the right-most address of X-Forwarded-For (or Forwarded)
// that is not itself a trusted proxy, so a client cannot name its own
// address by sending the header. ok is false for a peer that is not an IP
// address.
func (p Proxies) Client(peer string, h http.Header) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(peer)
	if err != nil {
		return netip.Addr{}, false
	}
	addr := ap.Addr().Unmap()
	if !p.Contains(addr) {
		return addr, true
	}
	hops := forwardedFor(h)
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			// A hop we cannot read: stop at the last address we trust.
			return addr, true
		}
		a = a.Unmap()
		if !p.Contains(a) {
			return a, true
		}
		addr = a
	}
	return addr, true
}

// Contains reports whether a is a trusted proxy's address.
func (p Proxies) Contains(a netip.Addr) bool {
	for _, n := range p {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor lists the client addresses proxies recorded, nearest last:
// X-Forwarded-For if present, else the for= parameters of Forwarded
// (RFC 7239), with ports and brackets removed.
func forwardedFor(h http.Header) []string {
	var hops []string
	if xff := h.Values("X-Forwarded-For"); len(xff) > 0 {
		for _, v := range xff {
			for _, hop := range strings.Split(v, ",") {
				hops = append(hops, strings.TrimSpace(hop))
			}
		}
		return hops
	}
	for _, v := range h.Values("Forwarded") {
		for _, elem := range strings.Split(v, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					hops = append(hops, hostOnly(strings.Trim(val, `"`)))
				}
			}
		}
	}
	return hops
}

// hostOnly drops the port and IPv6 brackets of a Forwarded node.
func hostOnly(node string) string {
	if strings.HasPrefix(node, "[") {
		if end := strings.Index(node, "]"); end > 0 {
			return node[1:end]
		}
	}
	if host, _, ok := strings.Cut(node, ":"); ok && strings.Count(node, ":") == 1 {
		return host
	}
	return node
}
