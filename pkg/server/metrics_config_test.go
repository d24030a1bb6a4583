package server

import (
	"strings"
	"testing"
)

// TestMetricsSettings: METRICS_ADDR is host:port or off, unset is
// DefaultMetricsAddr; OTEL_EXPORTER_OTLP_ENDPOINT is an http(s) URL, unset
// exports nothing; a bad value stops start-up naming its variable.
func TestMetricsSettings(t *testing.T) {
	read := func(env map[string]string) (Config, error) {
		return ConfigFromEnv(func(k string) string { return env[k] })
	}
	c, err := read(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c = c.withDefaults(); DefaultMetricsAddr != ":9464" || c.MetricsAddr != DefaultMetricsAddr || c.OTLPEndpoint != "" {
		t.Fatalf("unset: MetricsAddr %q, OTLPEndpoint %q", c.MetricsAddr, c.OTLPEndpoint)
	}
	for value, want := range map[string]string{"off": MetricsOff, " off ": MetricsOff, "127.0.0.1:9100": "127.0.0.1:9100", ":9464": ":9464", "[::1]:0": "[::1]:0"} {
		c, err := read(map[string]string{"METRICS_ADDR": value})
		if err != nil || c.withDefaults().MetricsAddr != want {
			t.Errorf("METRICS_ADDR=%q: %q, %v; want %q", value, c.MetricsAddr, err, want)
		}
	}
	c, err = read(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
	if err != nil || c.OTLPEndpoint != "http://collector:4318" {
		t.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %q, %v", c.OTLPEndpoint, err)
	}
	for name, values := range map[string][]string{
		"METRICS_ADDR":                {"9464", "localhost", "Off", "none"},
		"OTEL_EXPORTER_OTLP_ENDPOINT": {"collector:4318", "grpc://collector:4317", "https://"},
	} {
		for _, v := range values {
			_, err := read(map[string]string{name: v})
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%q: error %v does not name the variable", name, v, err)
			}
		}
	}
	// An endpoint may carry credentials: a rejected one is not quoted.
	if _, err := read(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://user:s3cret@collector"}); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("rejected endpoint: %v", err)
	}
}
