package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/waitroom/waitroom/pkg/token"
)

func TestKeygenPrintsAUsableKey(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"keygen"}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatal(err)
	}
	key, err := token.ParsePrivateKeyPEM(out.Bytes())
	if err != nil {
		t.Fatalf("keygen output does not parse: %v\n%s", err, out.String())
	}
	if _, err := token.NewIssuer(key, token.IssuerConfig{}); err != nil {
		t.Fatal(err)
	}
}

func TestBadStartNamesTheProblem(t *testing.T) {
	var out bytes.Buffer
	env := map[string]string{"QUEUE_PROCESS_INTERVAL": "often"}
	err := run(nil, func(k string) string { return env[k] }, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "QUEUE_PROCESS_INTERVAL") {
		t.Fatalf("bad config: %v", err)
	}
	if err := run([]string{"serve"}, func(string) string { return "" }, &out, &out); err == nil || !strings.Contains(err.Error(), "serve") {
		t.Fatalf("unknown command: %v", err)
	}
}
