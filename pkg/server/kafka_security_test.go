package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/pkg/kafka"
	"github.com/waitroom/waitroom/pkg/server"
	"github.com/waitroom/waitroom/pkg/server/servertest"
)

// testCA is a certificate authority made for one test; its files live in
// the test's temporary directory.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	dir  string
	// File is the CA's certificate, PEM, as KAFKA_TLS_CA_FILE takes it.
	File string
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "waitroom test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{cert: cert, key: key, dir: t.TempDir()}
	ca.File = ca.write(t, "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return ca
}

func (ca *testCA) write(t testing.TB, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(ca.dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue signs a certificate for a server (127.0.0.1 and names) or, with no
// names, for a client; it returns the pair and the files holding it.
func (ca *testCA) issue(t testing.TB, name string, serial int64, dnsNames ...string) (pair tls.Certificate, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if len(dnsNames) > 0 {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = dnsNames
		if dnsNames[0] == "localhost" {
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	pair, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair, ca.write(t, name+".pem", certPEM), ca.write(t, name+"-key.pem", keyPEM)
}

// configFromEnv is server.ConfigFromEnv over env, which must be valid.
func configFromEnv(t testing.TB, env map[string]string) server.Config {
	t.Helper()
	cfg, err := server.ConfigFromEnv(func(k string) string {
		if k == "METRICS_ADDR" && env[k] == "" {
			return "127.0.0.1:0" // not the default port, which other tests' servers may hold
		}
		return env[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

var securityTopics = []string{
	kafka.TopicJoined, kafka.TopicLeft, kafka.TopicAdmitted, kafka.TopicExpired,
	kafka.TopicCompleted, kafka.TopicPlaced, kafka.TopicCheckoutCompleted,
}

// kafkaClient is a client of the same cluster the server reaches, with the
// server's own TLS and SASL.
func kafkaClient(t testing.TB, k kafka.Config, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append(opts, kgo.SeedBrokers(k.Brokers...))
	if k.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(k.TLS))
	}
	if k.SASL != nil {
		opts = append(opts, kgo.SASL(k.SASL))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// awaitJoined waits for a queue.joined record naming each session.
func awaitJoined(t testing.TB, k kafka.Config, sessions ...string) {
	t.Helper()
	reader := kafkaClient(t, k, kgo.ConsumeTopics(kafka.TopicJoined), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	missing := map[string]bool{}
	for _, s := range sessions {
		missing[s] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for len(missing) > 0 {
		fs := reader.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("no queue.joined record for %v (fetch errors %v)", missing, fs.Errors())
		}
		fs.EachRecord(func(r *kgo.Record) {
			for s := range missing {
				if strings.Contains(string(r.Value), s) {
					delete(missing, s)
				}
			}
		})
	}
}

// completeOverKafka sends checkout.completed for a session and waits until
// the server's consumer has completed it.
func completeOverKafka(t testing.TB, k kafka.Config, ts *servertest.Server, session string) {
	t.Helper()
	producer := kafkaClient(t, k)
	rec := &kgo.Record{Topic: kafka.TopicCheckoutCompleted, Value: []byte(`{"session_id":"` + session + `"}`)}
	if err := producer.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	c := ts.Client()
	deadline := time.Now().Add(waitLimit)
	for status(t, c, session).Status != waitroomv1.SessionStatus_SESSION_STATUS_COMPLETED {
		if time.Now().After(deadline) {
			t.Fatal("checkout.completed was not consumed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKafkaSASLOverTLS: a cluster that wants TLS from a private CA and SASL
// gets the server's records, and its checkout.completed reaches the server,
// with each mechanism, the password given either way, and the topics
// created by the server itself.
func TestKafkaSASLOverTLS(t *testing.T) {
	ca := newTestCA(t)
	broker, _, _ := ca.issue(t, "broker", 2, "localhost")
	for _, c := range []struct {
		mechanism    string
		passwordFile bool
		createTopics bool
	}{
		{kafka.SASLPlain, false, false},
		{kafka.SASLScramSHA256, true, false},
		{kafka.SASLScramSHA512, false, true},
	} {
		t.Run(c.mechanism, func(t *testing.T) {
			const user, password = "waitroom", "correct horse battery staple"
			opts := []kfake.Opt{kfake.NumBrokers(1), kfake.TLS(&tls.Config{Certificates: []tls.Certificate{broker}}),
				kfake.EnableSASL(), kfake.Superuser(c.mechanism, user, password)}
			if !c.createTopics {
				opts = append(opts, kfake.SeedTopics(1, securityTopics...))
			}
			cluster, err := kfake.NewCluster(opts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(cluster.Close)
			env := map[string]string{
				"KAFKA_BROKERS": strings.Join(cluster.ListenAddrs(), ","), "KAFKA_TLS": "true",
				"KAFKA_TLS_CA_FILE": ca.File, "KAFKA_SASL_MECHANISM": strings.ToLower(c.mechanism),
				"KAFKA_SASL_USER": user, "KAFKA_SASL_PASSWORD": password,
			}
			if c.passwordFile {
				delete(env, "KAFKA_SASL_PASSWORD")
				env["KAFKA_SASL_PASSWORD_FILE"] = ca.write(t, "password", []byte(password+"\n"))
			}
			if c.createTopics {
				env["KAFKA_CREATE_TOPICS"] = "true"
			}
			cfg := configFromEnv(t, env)
			ts := startServer(t, cfg)
			a := join(t, ts.Client(), "u1", "sasl-show")
			b := join(t, ts.Client(), "u2", "sasl-show")
			awaitJoined(t, cfg.Kafka, a.SessionId, b.SessionId)
			process(t, ts)
			completeOverKafka(t, cfg.Kafka, ts, a.SessionId)
		})
	}
}

// TestKafkaClientCertificate: a cluster that wants a client certificate,
// known by a name that is not the address dialed, gets the records.
func TestKafkaClientCertificate(t *testing.T) {
	ca := newTestCA(t)
	broker, _, _ := ca.issue(t, "broker", 2, "kafka.internal.test")
	_, certFile, keyFile := ca.issue(t, "waitroom", 3)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, securityTopics...),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{broker}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	cfg := configFromEnv(t, map[string]string{
		"KAFKA_BROKERS": strings.Join(cluster.ListenAddrs(), ","), "KAFKA_TLS": "true",
		"KAFKA_TLS_CA_FILE": ca.File, "KAFKA_TLS_CERT_FILE": certFile, "KAFKA_TLS_KEY_FILE": keyFile,
		"KAFKA_TLS_SERVER_NAME": "kafka.internal.test",
	})
	ts := startServer(t, cfg)
	a := join(t, ts.Client(), "u1", "mtls-show")
	awaitJoined(t, cfg.Kafka, a.SessionId)
}

// TestKafkaWrongPassword: with a wrong password the server keeps serving,
// logs an error saying the brokers refuse it, and keeps every record in its
// outbox; once restarted with the right password, all of them arrive. The
// password, wrong or right, appears in no log line and no stats.
func TestKafkaWrongPassword(t *testing.T) {
	const wrong, right = "wr0ng-pa55word-xyzzy", "r1ght-pa55word-plugh"
	ca := newTestCA(t)
	broker, _, _ := ca.issue(t, "broker", 2, "localhost")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, securityTopics...),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{broker}}),
		kfake.EnableSASL(), kfake.Superuser(kafka.SASLPlain, "waitroom", right))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	// kfake drops the connection on bad credentials; a Kafka broker first
	// answers SASL_AUTHENTICATION_FAILED, with a message, as here.
	cluster.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		auth := req.(*kmsg.SASLAuthenticateRequest)
		if f := strings.SplitN(string(auth.SASLAuthBytes), "\x00", 3); len(f) == 3 && f[2] == right {
			return nil, nil, false
		}
		resp := auth.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		msg := "Authentication failed: Invalid username or password"
		resp.ErrorMessage = &msg
		return resp, nil, true
	})
	env := map[string]string{
		"KAFKA_BROKERS": strings.Join(cluster.ListenAddrs(), ","), "KAFKA_TLS": "true",
		"KAFKA_TLS_CA_FILE": ca.File, "KAFKA_SASL_MECHANISM": kafka.SASLPlain,
		"KAFKA_SASL_USER": "waitroom", "KAFKA_SASL_PASSWORD": wrong,
		"WAITROOM_STORE": "disk", "WAITROOM_DATA_DIR": t.TempDir(), "DEBUG_ADDR": "127.0.0.1:0",
	}
	var logs syncBuffer
	start := func() *servertest.Server {
		cfg := configFromEnv(t, env)
		// Every line, debug included, the client library's too.
		cfg.Logger = slog.New(slog.NewMultiHandler(
			slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}),
			servertest.Logger(t).Handler()))
		return startServer(t, cfg)
	}
	ts := start()
	c := ts.Client()
	var ids []string
	for _, u := range []string{"u1", "u2"} {
		ids = append(ids, join(t, c, u, "wrong-password").SessionId)
	}
	deadline := time.Now().Add(waitLimit)
	for !strings.Contains(logs.String(), `level=ERROR msg="Kafka refuses this client's credentials or permissions`) {
		if time.Now().After(deadline) {
			t.Fatalf("no error line says the brokers refuse the relay:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Still serving: a join is answered, and the outbox holds every record.
	ids = append(ids, join(t, c, "u3", "wrong-password").SessionId)
	failing := debugStats(t, ts)
	if failing.Kafka == nil || failing.Kafka.Relayed != 0 {
		t.Fatalf("the relay's stats while refused: %+v", failing.Kafka)
	}
	ts.Stop()

	env["KAFKA_SASL_PASSWORD"] = right
	ts = start()
	awaitJoined(t, configFromEnv(t, env).Kafka, ids...)
	shown := fmt.Sprintf("%+v %+v", *failing.Kafka, *debugStats(t, ts).Kafka)
	for _, p := range []string{wrong, right} {
		if strings.Contains(logs.String(), p) || strings.Contains(shown, p) {
			t.Fatalf("a password is in the logs or the stats:\n%s\n%s", logs.String(), shown)
		}
	}
}

// TestKafkaPlainInTheClear: SASL PLAIN without TLS works, for a broker on a
// private network, and start-up warns that the password travels in clear,
// without showing it.
func TestKafkaPlainInTheClear(t *testing.T) {
	const password = "pl41n-pa55word-frotz"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, securityTopics...),
		kfake.EnableSASL(), kfake.Superuser(kafka.SASLPlain, "waitroom", password))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	cfg := configFromEnv(t, map[string]string{
		"KAFKA_BROKERS": strings.Join(cluster.ListenAddrs(), ","), "KAFKA_SASL_MECHANISM": "PLAIN",
		"KAFKA_SASL_USER": "waitroom", "KAFKA_SASL_PASSWORD": password,
	})
	var logs syncBuffer
	cfg.Logger = slog.New(slog.NewMultiHandler(
		slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}), servertest.Logger(t).Handler()))
	ts := startServer(t, cfg)
	a := join(t, ts.Client(), "u1", "plain-show")
	awaitJoined(t, cfg.Kafka, a.SessionId)
	l := logs.String()
	if !strings.Contains(l, "level=WARN") || !strings.Contains(l, "password crosses the network in clear") {
		t.Fatalf("no warning that PLAIN sends the password in clear:\n%s", l)
	}
	if strings.Contains(l, password) {
		t.Fatalf("the password is in the logs:\n%s", l)
	}
}
