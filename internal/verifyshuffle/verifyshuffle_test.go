package verifyshuffle_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/waitroom/waitroom/internal/verifyshuffle"
)

// The README's worked example: a fixed seed and five ids.
const (
	seed       = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	commitment = "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd"
)

var (
	ids      = []string{"gala~s1", "gala~s2", "gala~s3", "gala~s4", "gala~s5"}
	wantPlan = []string{"gala~s1", "gala~s2", "gala~s5", "gala~s3", "gala~s4"}
)

func run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := verifyshuffle.Run(t.Context(), args, verifyshuffle.Env{Stdin: strings.NewReader(stdin), Stdout: &out})
	return out.String(), err
}

func lines(ss []string) string { return strings.Join(ss, "\n") + "\n" }

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTheDocumentedRule recomputes the example by the rule as the README
// states it, apart from the code under test: HMAC-SHA256 keyed with the
// seed's bytes over the session id, ascending.
func TestTheDocumentedRule(t *testing.T) {
	key, _ := hex.DecodeString(seed)
	mac := func(id string) string {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id))
		return hex.EncodeToString(m.Sum(nil))
	}
	byRule := slices.Clone(ids)
	slices.SortFunc(byRule, func(a, b string) int { return strings.Compare(mac(a), mac(b)) })
	if !slices.Equal(byRule, wantPlan) {
		t.Fatalf("the rule gives %v, the example says %v", byRule, wantPlan)
	}
	sum := sha256.Sum256(key)
	if hex.EncodeToString(sum[:]) != commitment {
		t.Fatal("the example's commitment is not SHA-256 of its seed")
	}
	out, err := run(t, lines(ids), "-seed", seed, "-commitment", commitment)
	if err != nil {
		t.Fatal(err)
	}
	want := "1\tgala~s1\n2\tgala~s2\n3\tgala~s5\n4\tgala~s3\n5\tgala~s4\n# 5 sessions in the seed's order\n"
	if out != want {
		t.Fatalf("printed\n%s\nwant\n%s", out, want)
	}
}

func TestChecksAClaimedOrder(t *testing.T) {
	reversed := slices.Clone(ids)
	slices.Reverse(reversed)
	idsFile := writeFile(t, "ids", "# the pre-queue\n"+lines(reversed))
	good := writeFile(t, "good", lines(wantPlan))
	out, err := run(t, "", "-seed", seed, "-ids", idsFile, "-order", good, "-quiet")
	if err != nil || out != "# OK: the order of 5 sessions is the seed's\n" {
		t.Fatalf("a right order: %q, %v", out, err)
	}

	swapped := slices.Clone(wantPlan)
	swapped[1], swapped[2] = swapped[2], swapped[1]
	for name, order := range map[string][]string{"swapped": swapped, "short": wantPlan[:4], "arrival order": ids} {
		_, err := run(t, lines(order), "-seed", seed, "-ids", idsFile, "-order", "-")
		if !errors.Is(err, verifyshuffle.ErrMismatch) {
			t.Errorf("%s: err %v, want a mismatch", name, err)
		}
	}
	_, err = run(t, lines(swapped), "-seed", seed, "-ids", idsFile, "-order", "-")
	if err == nil || !strings.Contains(err.Error(), "position 2 is gala~s5, the seed puts gala~s2 there") {
		t.Errorf("the mismatch does not say where: %v", err)
	}
}

func TestRefusesBadInput(t *testing.T) {
	wrongCommitment := strings.Repeat("0", 64)
	if _, err := run(t, lines(ids), "-seed", seed, "-commitment", wrongCommitment); !errors.Is(err, verifyshuffle.ErrMismatch) {
		t.Errorf("a seed not matching its commitment: %v", err)
	}
	if _, err := run(t, lines(append(slices.Clone(ids), ids[0])), "-seed", seed); !errors.Is(err, verifyshuffle.ErrMismatch) {
		t.Errorf("a duplicated id: %v", err)
	}
	for _, args := range [][]string{
		{},                       // no seed
		{"-seed", "xyz"},         // not hex
		{"-seed", seed[:62]},     // short
		{"-seed", seed, "extra"}, // stray argument
		{"-server", "http://x"},  // no event
		{"-seed", seed, "-ids", "/nonexistent/ids"},
	} {
		if _, err := run(t, lines(ids), args...); err == nil || errors.Is(err, verifyshuffle.ErrMismatch) {
			t.Errorf("%q: err %v, want a usage error", args, err)
		}
	}
}
