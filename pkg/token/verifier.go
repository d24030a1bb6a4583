package token

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrJWKSUnavailable is wrapped by Verify's error when the keys could not be
// fetched: the token may be fine, so a checkout service should answer "try
// again" rather than "invalid token".
var ErrJWKSUnavailable = errors.New("token: JWKS unavailable")

// DefaultMinRefresh is VerifierConfig.MinRefresh's default.
const DefaultMinRefresh = 15 * time.Second

const (
	verifyLeeway  = 30 * time.Second // clock skew between the waiting room and a checkout service
	fetchTimeout  = 10 * time.Second
	maxJWKSSize   = 1 << 20
	maxJWKSMaxAge = 24 * time.Hour
)

// VerifierConfig tunes NewVerifier. Zero fields take the defaults, so the
// zero value suits a waiting room run with the default issuer and audience.
type VerifierConfig struct {
	// Issuer and Audience are required in iss and aud; they default to
	// DefaultIssuer and DefaultAudience.
	Issuer   string
	Audience string
	// HTTPClient fetches the JWKS; the default has a 10 s timeout.
	HTTPClient *http.Client
	// Now tells the time for expiry checks and key caching; time.Now if nil.
	Now func() time.Time
	// MinRefresh is the least time between two JWKS fetches, however many
	// tokens with unknown kids arrive, and the shortest time keys are cached.
	// DefaultMinRefresh if zero.
	MinRefresh time.Duration
}

func (c VerifierConfig) withDefaults() VerifierConfig {
	c.Issuer = cmp.Or(c.Issuer, DefaultIssuer)
	c.Audience = cmp.Or(c.Audience, DefaultAudience)
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: fetchTimeout}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MinRefresh <= 0 {
		c.MinRefresh = DefaultMinRefresh
	}
	return c
}

// Verifier checks checkout tokens against the waiting room's JWKS. It fetches
// the keys on first use and caches them for the max-age the server sends. A
// token naming an unknown kid triggers a refetch, so a rotated-in key works at
// once, but at most one fetch per MinRefresh, so junk kids cannot flood the
// server. It is safe for concurrent use.
type Verifier struct {
	url        string
	client     *http.Client
	now        func() time.Time
	minRefresh time.Duration
	parser     *jwt.Parser

	mu        sync.Mutex
	keys      map[string]publicKey
	staleAt   time.Time     // when keys are due for a refetch
	lastFetch time.Time     // when the latest fetch started
	fetchErr  error         // why the latest fetch failed; nil if it succeeded
	fetching  chan struct{} // closed when the running fetch ends; nil when none runs
}

// NewVerifier returns a Verifier for the JWKS at jwksURL, typically the
// waiting room's base URL + JWKSPath. It fetches nothing until the first Verify.
func NewVerifier(jwksURL string, cfg VerifierConfig) (*Verifier, error) {
	u, err := url.Parse(jwksURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("token: JWKS URL %q is not an absolute http or https URL", jwksURL)
	}
	cfg = cfg.withDefaults()
	v := &Verifier{
		url:        jwksURL,
		client:     cfg.HTTPClient,
		now:        cfg.Now,
		minRefresh: cfg.MinRefresh,
	}
	v.parser = jwt.NewParser(
		// Pinned here and again to each key's own alg in pickKey: a token never
		// chooses how it is checked (no "none", no HMAC keyed with a public key).
		jwt.WithValidMethods([]string{AlgEdDSA, AlgES256}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(verifyLeeway),
		jwt.WithTimeFunc(v.now),
		jwt.WithStrictDecoding(),
	)
	return v, nil
}

// Verify checks a checkout token's signature, algorithm, issuer, audience and
// times, and returns its claims. Errors wrap jwt's (errors.Is(err,
// jwt.ErrTokenExpired) tells an expired token) or ErrJWKSUnavailable.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	// Cheap checks first: junk input costs a length check and a byte scan.
	if len(token) > MaxTokenLen {
		return nil, fmt.Errorf("token: %w: longer than %d bytes", jwt.ErrTokenMalformed, MaxTokenLen)
	}
	if strings.Count(token, ".") != 2 {
		return nil, fmt.Errorf("token: %w: want three dot-separated parts", jwt.ErrTokenMalformed)
	}
	c := &Claims{}
	_, err := v.parser.ParseWithClaims(token, c, func(t *jwt.Token) (any, error) {
		return pickKey(t, func(kid string) (publicKey, error) { return v.key(ctx, kid) })
	})
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	return c, nil
}

// key returns the verification key named kid, fetching the JWKS when the kid
// is unknown or the cache is stale and no fetch ran in the last MinRefresh.
// Concurrent callers share one fetch.
func (v *Verifier) key(ctx context.Context, kid string) (publicKey, error) {
	for fetched := false; ; fetched = true {
		v.mu.Lock()
		now := v.now()
		k, known := v.keys[kid]
		if known && now.Before(v.staleAt) {
			v.mu.Unlock()
			return k, nil
		}
		if ch := v.fetching; ch != nil {
			v.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return publicKey{}, ctx.Err()
			}
		}
		if fetched || (!v.lastFetch.IsZero() && now.Sub(v.lastFetch) < v.minRefresh) {
			fetchErr := v.fetchErr
			v.mu.Unlock()
			switch {
			case known: // stale, but no fetch is due or the last one failed: keep trusting it
				return k, nil
			case fetchErr != nil:
				return publicKey{}, fmt.Errorf("%w: %w", ErrJWKSUnavailable, fetchErr)
			}
			return publicKey{}, fmt.Errorf("unknown kid %q", kid)
		}
		ch := make(chan struct{})
		v.fetching, v.lastFetch = ch, now
		v.mu.Unlock()

		keys, maxAge, err := v.fetch(ctx)

		v.mu.Lock()
		v.fetchErr = err
		if err == nil {
			v.keys, v.staleAt = keys, now.Add(maxAge)
		}
		v.fetching = nil
		close(ch)
		v.mu.Unlock()
	}
}

// fetch downloads and parses the JWKS and says how long to cache it.
func (v *Verifier) fetch(ctx context.Context) (map[string]publicKey, time.Duration, error) {
	// Every waiting Verify shares this fetch, so one caller giving up must not
	// cancel it for the others.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("GET %s: %s", v.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", v.url, err)
	}
	if len(body) > maxJWKSSize {
		return nil, 0, fmt.Errorf("GET %s: JWKS larger than %d bytes", v.url, maxJWKSSize)
	}
	keys, err := parseJWKS(body)
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", v.url, err)
	}
	return keys, v.cacheLifetime(resp.Header.Get("Cache-Control")), nil
}

// cacheLifetime reads max-age from a Cache-Control header, bounded below by
// MinRefresh and above by a day; DefaultJWKSMaxAge when the header has none.
func (v *Verifier) cacheLifetime(cacheControl string) time.Duration {
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
	return min(max(d, v.minRefresh), maxJWKSMaxAge)
}
