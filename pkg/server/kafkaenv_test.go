package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/kafka"
)

// kafkaTestPassword is the password every case below sets somewhere, so a
// test can see that no error repeats it.
const kafkaTestPassword = "s3cr3t-kafka-pa55word"

// withFiles serves readFile from files for the test's length.
func withFiles(t *testing.T, files map[string]string) {
	old := readFile
	t.Cleanup(func() { readFile = old })
	readFile = func(name string) ([]byte, error) {
		b, ok := files[name]
		if !ok {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		return []byte(b), nil
	}
}

func readKafkaEnv(env map[string]string) (Config, error) {
	return ConfigFromEnv(func(k string) string { return env[k] })
}

func TestKafkaSecurityFromEnv(t *testing.T) {
	withFiles(t, map[string]string{"ca.pem": selfSignedPEM(t), "pw": kafkaTestPassword + "\r\n"})
	c, err := readKafkaEnv(map[string]string{"KAFKA_TLS": "true"})
	if err != nil || c.Kafka.TLS == nil || c.Kafka.TLS.RootCAs != nil || c.Kafka.SASL != nil {
		t.Fatalf("KAFKA_TLS=true alone: %+v, %v", c.Kafka, err)
	}
	c, err = readKafkaEnv(map[string]string{
		"KAFKA_TLS": "1", "KAFKA_TLS_CA_FILE": "ca.pem", "KAFKA_TLS_SERVER_NAME": "b-1.example.kafka",
		"KAFKA_SASL_MECHANISM": "scram-sha-512", "KAFKA_SASL_USER": "waitroom", "KAFKA_SASL_PASSWORD_FILE": "pw",
	})
	if err != nil || c.Kafka.TLS == nil || c.Kafka.TLS.RootCAs == nil || c.Kafka.TLS.ServerName != "b-1.example.kafka" ||
		c.Kafka.SASL == nil || c.Kafka.SASL.Name() != kafka.SASLScramSHA512 {
		t.Fatalf("TLS with a CA and SCRAM: %+v, %v", c.Kafka, err)
	}
	c, err = readKafkaEnv(map[string]string{"KAFKA_TLS": "false",
		"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USER": "waitroom", "KAFKA_SASL_PASSWORD": kafkaTestPassword})
	if err != nil || c.Kafka.TLS != nil || c.Kafka.SASL == nil || c.Kafka.SASL.Name() != kafka.SASLPlain {
		t.Fatalf("PLAIN without TLS (allowed, with a warning at start): %+v, %v", c.Kafka, err)
	}
}

// TestKafkaSecurityErrors: each mistake is refused with a message naming a
// variable and saying what is wrong, and none quotes the password.
func TestKafkaSecurityErrors(t *testing.T) {
	withFiles(t, map[string]string{"ca.pem": selfSignedPEM(t), "pw": kafkaTestPassword + "\n", "empty": "\n"})
	sasl := func(kv ...string) map[string]string {
		env := map[string]string{"KAFKA_BROKERS": "b:9096", "KAFKA_TLS": "true",
			"KAFKA_SASL_MECHANISM": "SCRAM-SHA-256", "KAFKA_SASL_USER": "waitroom", "KAFKA_SASL_PASSWORD": kafkaTestPassword}
		for i := 0; i < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
		return env
	}
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{sasl("KAFKA_SASL_MECHANISM", "GSSAPI"), "KAFKA_SASL_MECHANISM=\"GSSAPI\": want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"},
		{sasl("KAFKA_SASL_MECHANISM", "OAUTHBEARER"), "want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"},
		{sasl("KAFKA_SASL_PASSWORD", ""), "KAFKA_SASL_USER is set but neither KAFKA_SASL_PASSWORD nor KAFKA_SASL_PASSWORD_FILE is"},
		{sasl("KAFKA_SASL_USER", ""), "KAFKA_SASL_MECHANISM=SCRAM-SHA-256 needs KAFKA_SASL_USER"},
		{sasl("KAFKA_SASL_PASSWORD_FILE", "pw"), "KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are both set: set one"},
		{sasl("KAFKA_SASL_PASSWORD", "", "KAFKA_SASL_PASSWORD_FILE", "/run/secrets/nope"), "KAFKA_SASL_PASSWORD_FILE: open /run/secrets/nope"},
		{sasl("KAFKA_SASL_PASSWORD", "", "KAFKA_SASL_PASSWORD_FILE", "empty"), "KAFKA_SASL_PASSWORD_FILE: the file is empty"},
		{sasl("KAFKA_SASL_MECHANISM", ""), "KAFKA_SASL_USER is set but KAFKA_SASL_MECHANISM is not"},
		{sasl("KAFKA_SASL_MECHANISM", "", "KAFKA_SASL_USER", ""), "KAFKA_SASL_PASSWORD is set but KAFKA_SASL_MECHANISM is not"},
		{sasl("KAFKA_TLS", "yes please"), "KAFKA_TLS=\"yes please\": want true or false"},
		{sasl("KAFKA_TLS_CA_FILE", "/etc/kafka/missing.pem"), "KAFKA_TLS_CA_FILE=\"/etc/kafka/missing.pem\": open /etc/kafka/missing.pem"},
		{sasl("KAFKA_TLS_CA_FILE", "pw"), "KAFKA_TLS_CA_FILE=\"pw\": no PEM certificate in the file"},
		{sasl("KAFKA_TLS", "false", "KAFKA_TLS_CA_FILE", "ca.pem"), "KAFKA_TLS_CA_FILE is set but KAFKA_TLS is not true"},
		{sasl("KAFKA_TLS", "", "KAFKA_TLS_SERVER_NAME", "kafka"), "KAFKA_TLS_SERVER_NAME is set but KAFKA_TLS is not true"},
		{sasl("KAFKA_TLS_CERT_FILE", "ca.pem"), "KAFKA_TLS_CERT_FILE is set but KAFKA_TLS_KEY_FILE is not"},
		{sasl("KAFKA_TLS_KEY_FILE", "pw"), "KAFKA_TLS_KEY_FILE is set but KAFKA_TLS_CERT_FILE is not"},
		{sasl("KAFKA_TLS_CERT_FILE", "ca.pem", "KAFKA_TLS_KEY_FILE", "pw"), "KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE: tls:"},
		{sasl("KAFKA_TLS_CERT_FILE", "pw", "KAFKA_TLS_KEY_FILE", "pw"), "KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE: tls:"},
		{sasl("KAFKA_TLS_CERT_FILE", "nope.pem", "KAFKA_TLS_KEY_FILE", "pw"), "KAFKA_TLS_CERT_FILE: open nope.pem"},
	} {
		_, err := readKafkaEnv(c.env)
		switch {
		case err == nil:
			t.Errorf("%v: no error, want %q", c.env, c.want)
		case !strings.HasPrefix(err.Error(), "KAFKA_") || !strings.Contains(err.Error(), c.want):
			t.Errorf("%v: error %q, want %q", c.env, err, c.want)
		case strings.Contains(err.Error(), kafkaTestPassword):
			t.Errorf("%v: the error %q quotes the password", c.env, err)
		}
	}
}

// TestKafkaSecurityFromEmptyEnv: without the variables nothing changes, and
// a zero kafka.Config still dials in the clear without SASL.
func TestKafkaSecurityFromEmptyEnv(t *testing.T) {
	var k kafkaSecurity
	var c kafka.Config
	if err := k.apply(&c); err != nil || c.TLS != nil || c.SASL != nil {
		t.Fatalf("%+v, %v", c, err)
	}
}

func TestNewSASL(t *testing.T) {
	for _, m := range kafka.SASLMechanisms {
		if mech, err := kafka.NewSASL(strings.ToLower(m), "u", "p"); err != nil || mech.Name() != m {
			t.Errorf("%s: %v, %v", m, mech, err)
		}
	}
	if _, err := kafka.NewSASL("GSSAPI", "u", kafkaTestPassword); !errors.Is(err, kafka.ErrUnknownSASLMechanism) {
		t.Errorf("GSSAPI: %v", err)
	}
	for _, c := range [][2]string{{"", kafkaTestPassword}, {"u", ""}} {
		if _, err := kafka.NewSASL(kafka.SASLPlain, c[0], c[1]); err == nil || strings.Contains(err.Error(), kafkaTestPassword) {
			t.Errorf("user %q: %v", c[0], err)
		}
	}
}

// selfSignedPEM is a CA certificate made for the test, PEM.
func selfSignedPEM(t *testing.T) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// kafkaFuzzedVars are the variables FuzzKafkaSecurityFromEnv sets, in its
// arguments' order.
var kafkaFuzzedVars = []string{
	"KAFKA_TLS", "KAFKA_TLS_CA_FILE", "KAFKA_TLS_CERT_FILE", "KAFKA_TLS_KEY_FILE",
	"KAFKA_SASL_MECHANISM", "KAFKA_SASL_USER", "KAFKA_SASL_PASSWORD", "KAFKA_SASL_PASSWORD_FILE",
}

// FuzzKafkaSecurityFromEnv reads fuzzed TLS and SASL settings, with files
// that exist or not: it never panics, an error starts with the name of a
// variable that is set, and the password, given directly or in a file,
// never appears in an error.
func FuzzKafkaSecurityFromEnv(f *testing.F) {
	f.Add("true", "ca.pem", "", "", "SCRAM-SHA-512", "waitroom", "pw", "")
	f.Add("false", "", "", "", "plain", "", "pw", "pw.txt")
	f.Add("maybe", "pw.txt", "ca.pem", "pw.txt", "GSSAPI", "u", "", "pw.txt")
	f.Add("1", "", "pw.txt", "", "", "u", "", "")
	f.Add("", "", "", "", "SCRAM-SHA-256", "", "x\ny", "missing")
	f.Fuzz(func(t *testing.T, tlsOn, caFile, certFile, keyFile, mechanism, user, password, passwordFile string) {
		const filed = secretMark + "in-a-file"
		withFiles(t, map[string]string{"pw.txt": filed + "\n", "ca.pem": "-----BEGIN CERTIFICATE-----\n" + filed})
		env := map[string]string{}
		for i, v := range []string{tlsOn, caFile, certFile, keyFile, mechanism, user, secretMark + password, passwordFile} {
			env[kafkaFuzzedVars[i]] = v
		}
		_, err := readKafkaEnv(env)
		if err == nil {
			return
		}
		msg := err.Error()
		named := false
		for _, name := range kafkaFuzzedVars {
			if strings.TrimSpace(env[name]) != "" && strings.HasPrefix(msg, name) && !isNameByte(msg, len(name)) {
				named = true
			}
		}
		if !named {
			t.Fatalf("error %q names none of the variables set", msg)
		}
		if strings.Contains(msg, filed) {
			t.Fatalf("error %q shows the file's password", msg)
		}
		secret := strings.TrimSpace(env["KAFKA_SASL_PASSWORD"])
		if !strings.Contains(msg, secret) {
			return
		}
		for other, v := range env {
			if other != "KAFKA_SASL_PASSWORD" && strings.Contains(v, secret) {
				return // another variable holds it too, and may be quoted
			}
		}
		t.Fatalf("error %q shows KAFKA_SASL_PASSWORD", msg)
	})
}
