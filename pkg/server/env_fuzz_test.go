package server

import (
	"strings"
	"testing"
)

// fuzzedVars are the variables FuzzConfigFromEnv sets, in its arguments'
// order: one of each kind of parser, then the two secrets.
var fuzzedVars = []string{
	"LISTEN_ADDR", "QUEUE_SESSION_TTL", "QUEUE_DEFAULT_MAX_CONCURRENT", "QUEUE_REGISTER_UNKNOWN_EVENTS",
	"REDIS_ADDR", "WAITROOM_JOIN_JWKS_URL", "HTTP2_MAX_CONCURRENT_STREAMS", "LOG_LEVEL",
	"WAITROOM_ADMIN_TOKEN", "WAITROOM_SIGNING_KEY",
}

// secretMark starts every fuzzed secret, so a secret found in an error was
// copied there, not spelled by chance by the error's own words.
const secretMark = "s3cr3t-"

// FuzzConfigFromEnv reads fuzzed values: it never panics, an error starts
// with the name of a variable that is set, and neither secret ever appears
// in an error, whether the secret itself or another variable is wrong.
func FuzzConfigFromEnv(f *testing.F) {
	f.Add(":8080", "2h", "100", "true", "localhost:6379", "https://shop.example/jwks.json", "250", "info", "0123456789abcdef", "-----BEGIN PRIVATE KEY-----")
	f.Add("nope", "7200", "0", "maybe", "a,b:1", "ftp://x", "0", "loud", "short", "k")
	f.Add("[::1]:0", "-1s", "-5", "false", " , ", "http://", "4294967296", "DEBUG+2", "  0123456789abcdef  ", "")
	f.Add("", "9223372036854775807", "99999999999999999999", "", "h:", "", "1", "", "", "key")
	f.Add("a:b:c", "1e3s", "1.5", "1", "h:1,", "https://x/\x00", "-1", "warn-4", "x\ny", "\"quoted\"")
	f.Fuzz(func(t *testing.T, listen, ttl, maxConcurrent, unknown, redis, jwks, streams, level, admin, key string) {
		env := map[string]string{}
		for i, v := range []string{listen, ttl, maxConcurrent, unknown, redis, jwks, streams, level, secretMark + admin, secretMark + key} {
			env[fuzzedVars[i]] = v
		}
		_, err := ConfigFromEnv(func(name string) string { return env[name] })
		if err == nil {
			return
		}
		msg := err.Error()
		named := false
		for _, name := range fuzzedVars {
			if strings.TrimSpace(env[name]) != "" && strings.HasPrefix(msg, name) && !isNameByte(msg, len(name)) {
				named = true
			}
		}
		if !named {
			t.Fatalf("error %q names none of the variables set", msg)
		}
		for _, name := range []string{"WAITROOM_ADMIN_TOKEN", "WAITROOM_SIGNING_KEY"} {
			secret := strings.TrimSpace(env[name])
			if !strings.Contains(msg, secret) {
				continue
			}
			for other, v := range env {
				if other != name && strings.Contains(v, secret) {
					return // another variable holds it too, and may be quoted
				}
			}
			t.Fatalf("error %q shows %s", msg, name)
		}
	})
}

// isNameByte reports whether s[i] could continue a variable's name, so
// "LOG_LEVEL" is not read as naming "LOG".
func isNameByte(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	c := s[i]
	return c == '_' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
