package redisstore

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/waitroom/waitroom/internal/redistest"
)

// The scripts format change times themselves (a checkout deadline is
// computed inside the admit script); they must agree with Go exactly.
func TestLuaRFC3339(t *testing.T) {
	srv := redistest.Start(t)
	script := prelude + "return rfc3339(tonumber(ARGV[5]))"
	r := rand.New(rand.NewPCG(1, 2))
	cases := []int64{0, 1, 999, 1000, 86399999, 86400000, 951782400000 /* 2000-02-29 */, 4107542399999 /* 2100-02-28 end */, 253402300799999}
	for range 300 {
		cases = append(cases, r.Int64N(253402300799999))
	}
	for _, v := range cases {
		want := time.UnixMilli(v).UTC().Format("2006-01-02T15:04:05.000Z")
		got, err := srv.Do(t.Context(), "EVAL", script, "0", "", "e", "0", "0", strconv.FormatInt(v, 10)).ToString()
		if err != nil {
			t.Fatalf("EVAL: %v", err)
		}
		if got != want {
			t.Fatalf("rfc3339(%d) = %s, want %s", v, got, want)
		}
		parsed, err := time.Parse(time.RFC3339Nano, got)
		if err != nil || parsed.UnixMilli() != v {
			t.Fatalf("rfc3339(%d) = %s parses back to %v, %v", v, got, parsed, err)
		}
	}
}

// The scripts see every name they share with Go as Go defines it, however
// it is spelt.
func TestLuaSharedNames(t *testing.T) {
	srv := redistest.Start(t)
	eval := func(script string) string {
		t.Helper()
		got, err := srv.Do(t.Context(), "EVAL", script, "0").ToString()
		if err != nil {
			t.Fatalf("EVAL %s: %v", script, err)
		}
		return got
	}
	for _, c := range shared {
		if got := eval(declareShared() + "return " + c.lua); got != c.value {
			t.Errorf("%s = %q in Lua, %q in Go", c.lua, got, c.value)
		}
	}
	for _, s := range []string{"", `a"b`, `back\slash`, "line\nbreak", "tab\t", "nul\x00", "é", "\xff", "]]"} {
		if got := eval("return " + luaString(s)); got != s {
			t.Errorf("luaString(%q) reads back as %q", s, got)
		}
	}
}
