package token

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrJWKSUnavailable is wrapped by Verify's error when the keys could not be
// fetched: the token may be fine, so a checkout service should answer "try
// again" rather than "invalid token".
var ErrJWKSUnavailable = errors.New("token: JWKS unavailable")

const (
	fetchTimeout  = 10 * time.Second
	maxJWKSSize   = 1 << 20
	maxJWKSMaxAge = 24 * time.Hour
)

// errUnknownKid is a kid that names no trusted key.
var errUnknownKid = errors.New("unknown kid")

// jwksCache holds the keys of a remote JWKS. It fetches on first use and
// keeps the keys for the max-age the server sends. An unknown kid triggers a
// refetch, so a rotated-in key works at once, but at most one fetch per
// minRefresh, so junk kids cannot flood the server. While the server is down,
// the keys last fetched keep working. It is safe for concurrent use.
type jwksCache struct {
	url        string
	client     *http.Client
	now        func() time.Time
	minRefresh time.Duration
	algs       []string // the algorithms of the keys to keep; others are skipped
	logger     *slog.Logger

	mu        sync.Mutex
	keys      map[string]publicKey
	staleAt   time.Time     // when keys are due for a refetch
	lastFetch time.Time     // when the latest fetch started
	fetchErr  error         // why the latest fetch failed; nil if it succeeded
	fetching  chan struct{} // closed when the running fetch ends; nil when none runs
}

// checkJWKSURL says whether rawURL can be fetched as a JWKS. Its errors have
// no package prefix.
func checkJWKSURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("JWKS URL %q is not an absolute http or https URL", rawURL)
	}
	return nil
}

// key returns the verification key named kid, fetching the JWKS when the kid
// is unknown or the cache is stale and no fetch ran in the last minRefresh.
// Concurrent callers share one fetch.
func (c *jwksCache) key(ctx context.Context, kid string) (publicKey, error) {
	for fetched := false; ; fetched = true {
		c.mu.Lock()
		now := c.now()
		k, known := c.keys[kid]
		if known && now.Before(c.staleAt) {
			c.mu.Unlock()
			return k, nil
		}
		if ch := c.fetching; ch != nil {
			c.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return publicKey{}, ctx.Err()
			}
		}
		if fetched || (!c.lastFetch.IsZero() && now.Sub(c.lastFetch) < c.minRefresh) {
			fetchErr := c.fetchErr
			c.mu.Unlock()
			switch {
			case known: // stale, but no fetch is due or the last one failed: keep trusting it
				return k, nil
			case fetchErr != nil:
				return publicKey{}, fmt.Errorf("%w: %w", ErrJWKSUnavailable, fetchErr)
			}
			return publicKey{}, fmt.Errorf("%w %q", errUnknownKid, kid)
		}
		ch := make(chan struct{})
		c.fetching, c.lastFetch = ch, now
		c.mu.Unlock()

		keys, maxAge, err := c.fetch(ctx)

		c.mu.Lock()
		c.fetchErr = err
		if err == nil {
			c.keys, c.staleAt = keys, now.Add(maxAge)
		}
		cached := len(c.keys)
		c.fetching = nil
		close(ch)
		c.mu.Unlock()
		if err != nil {
			c.logger.Warn("JWKS fetch failed; keeping the keys fetched before",
				"url", c.url, "err", err, "cached_keys", cached)
		}
	}
}

// fetch downloads and parses the JWKS and says how long to cache it.
func (c *jwksCache) fetch(ctx context.Context) (map[string]publicKey, time.Duration, error) {
	// Every waiting caller shares this fetch, so one caller giving up must not
	// cancel it for the others.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("GET %s: %s", c.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", c.url, err)
	}
	if len(body) > maxJWKSSize {
		return nil, 0, fmt.Errorf("GET %s: JWKS larger than %d bytes", c.url, maxJWKSSize)
	}
	keys, err := parseJWKS(body, c.algs)
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", c.url, err)
	}
	return keys, c.cacheLifetime(resp.Header.Get("Cache-Control")), nil
}

// cacheLifetime reads max-age from a Cache-Control header, bounded below by
// minRefresh and above by a day; DefaultJWKSMaxAge when the header has none.
func (c *jwksCache) cacheLifetime(cacheControl string) time.Duration {
	d, noCache := DefaultJWKSMaxAge, false
	for directive := range strings.SplitSeq(cacheControl, ",") {
		directive = strings.ToLower(strings.TrimSpace(directive))
		if directive == "no-store" || directive == "no-cache" {
			noCache = true
		}
		if s, ok := strings.CutPrefix(directive, "max-age="); ok {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				d = time.Duration(min(n, int64(maxJWKSMaxAge/time.Second))) * time.Second
			}
		}
	}
	if noCache {
		d = 0
	}
	return min(max(d, c.minRefresh), maxJWKSMaxAge)
}
