package server

import (
	"crypto"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/waitroom/waitroom/pkg/token"
)

// readFile reads the files settings name; a variable so tests can swap it.
var readFile = os.ReadFile

var errWantCount = errors.New("want a whole number of at least 1")

func text(dst *string) func(string) error {
	return func(s string) error {
		*dst = s
		return nil
	}
}

// hostPort reads one host:port address ("127.0.0.1:0", ":50056").
func hostPort(dst *string) func(string) error {
	return func(s string) error {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return err
		}
		*dst = s
		return nil
	}
}

// positiveDuration reads a Go duration ("1s", "250ms") or a whole number of
// seconds ("7200").
func positiveDuration(dst *time.Duration) func(string) error {
	return durationAtLeast(dst, time.Nanosecond)
}

// durationAtLeast is positiveDuration with a floor.
func durationAtLeast(dst *time.Duration, floor time.Duration) func(string) error {
	return func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil {
			n, nerr := strconv.ParseInt(s, 10, 64)
			const maxSeconds = math.MaxInt64 / int64(time.Second)
			switch {
			case errors.Is(nerr, strconv.ErrRange), nerr == nil && n > maxSeconds:
				return fmt.Errorf("too large (at most %d seconds)", maxSeconds)
			case nerr != nil:
				return fmt.Errorf("want a duration such as 1s, 250ms or 7200s (at most %v)", time.Duration(math.MaxInt64))
			}
			d = time.Duration(n) * time.Second
		}
		switch {
		case d <= 0:
			return fmt.Errorf("must be positive")
		case d < floor:
			return fmt.Errorf("must be at least %v", floor)
		}
		*dst = d
		return nil
	}
}

// hostPorts reads a comma-separated list of host:port addresses.
func hostPorts(dst *[]string) func(string) error {
	return func(s string) error {
		if err := list(dst)(s); err != nil {
			return err
		}
		for _, a := range *dst {
			if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
				return fmt.Errorf("%q is not host:port", a)
			}
		}
		return nil
	}
}

// list reads a comma-separated list, dropping empty items.
func list(dst *[]string) func(string) error {
	return func(s string) error {
		*dst = nil
		for _, item := range strings.Split(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				*dst = append(*dst, item)
			}
		}
		return nil
	}
}

// publicKeysFile reads a file of PEM public keys.
func publicKeysFile(dst *[]crypto.PublicKey) func(string) error {
	return func(name string) error {
		b, err := readFile(name)
		if err != nil {
			return err
		}
		keys, err := token.ParsePublicKeysPEM(b)
		if err != nil {
			return err
		}
		*dst = keys
		return nil
	}
}

// minServiceTokenLen keeps guessable secrets out of the service tokens.
const minServiceTokenLen = 16

// serviceTokensFile reads bearer secrets, one a line; blank lines and lines
// starting with # are skipped. An error never quotes a secret.
func serviceTokensFile(dst *[]string) func(string) error {
	return func(name string) error {
		b, err := readFile(name)
		if err != nil {
			return err
		}
		var toks []string
		for n, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if len(line) < minServiceTokenLen {
				return fmt.Errorf("line %d: a service token must be at least %d characters", n+1, minServiceTokenLen)
			}
			toks = append(toks, line)
		}
		if len(toks) == 0 {
			return errors.New("no service tokens in the file")
		}
		*dst = toks
		return nil
	}
}

// httpURL reads an absolute http(s) URL.
func httpURL(dst *string) func(string) error {
	return func(s string) error {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("want an http(s) URL")
		}
		*dst = s
		return nil
	}
}

// prefixes reads comma-separated CIDRs; a bare address is its own /32 or /128.
func prefixes(dst *[]netip.Prefix) func(string) error {
	return func(s string) error {
		var out []netip.Prefix
		for _, f := range strings.Split(s, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			p, err := netip.ParsePrefix(f)
			if err != nil {
				a, aerr := netip.ParseAddr(f)
				if aerr != nil {
					return fmt.Errorf("%q is not a CIDR or an address", f)
				}
				p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
			}
			out = append(out, p.Masked())
		}
		*dst = out
		return nil
	}
}

// capOrOff reads a count of at least 1, or "off" (stored as -1).
func capOrOff(dst *int) func(string) error {
	return func(s string) error {
		if s == "off" {
			*dst = -1
			return nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return errors.New("want a whole number of at least 1, or off")
		}
		*dst = n
		return nil
	}
}
