package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/waitroom/waitroom/pkg/server"
)

// TestPages checks that the public port serves both browser pages: the
// waiting room at /e/<event_id> and the operators' dashboard at /admin.
func TestPages(t *testing.T) {
	ts := startServer(t, server.Config{})
	for path, marker := range map[string]string{
		"/e/demo": `id="position"`,
		"/admin":  `id="signin"`,
	} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), marker) {
			t.Errorf("%s: status %d, page without %s", path, resp.StatusCode, marker)
		}
	}
}
