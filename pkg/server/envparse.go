package server

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// readFile reads WAITROOM_SIGNING_KEY_FILE; a variable so tests can swap it.
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
