package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifyShuffleFailsOnMismatch: the subcommand is wired, prints the
// order, and fails (a non-zero exit) when a claimed order is not the seed's.
func TestVerifyShuffleFailsOnMismatch(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const seed = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	ids := write("ids", "gala~s1\ngala~s2\ngala~s3\ngala~s4\ngala~s5\n")
	noEnv := func(string) string { return "" }
	var out bytes.Buffer
	if err := run([]string{"verify-shuffle", "-seed", seed, "-ids", ids, "-order", write("good", "gala~s1\ngala~s2\ngala~s5\ngala~s3\ngala~s4\n")}, noEnv, &out, &out); err != nil {
		t.Fatalf("the seed's own order: %v\n%s", err, out.String())
	}
	if !strings.HasPrefix(out.String(), "1\tgala~s1\n2\tgala~s2\n3\tgala~s5\n") {
		t.Fatalf("printed %q", out.String())
	}
	err := run([]string{"verify-shuffle", "-seed", seed, "-ids", ids, "-order", ids}, noEnv, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "mismatch") {
		t.Fatalf("the arrival order passed as the seed's: %v", err)
	}
}
