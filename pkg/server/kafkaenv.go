package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/waitroom/waitroom/pkg/kafka"
)

// kafkaSecurity is how the replica reaches a managed Kafka: TLS and SASL as
// the variables say, checked together once all of them are read, since most
// mistakes are a variable missing beside another.
type kafkaSecurity struct {
	tls                       bool
	ca                        *x509.CertPool
	caFile, certFile, keyFile string
	serverName                string
	mechanism, user           string
	password, passwordFile    string
}

func kafkaSecuritySettings(k *kafkaSecurity) []setting {
	return []setting{
		{"KAFKA_TLS", func(s string) error {
			on, err := strconv.ParseBool(s)
			if err != nil {
				return errors.New("want true or false")
			}
			k.tls = on
			return nil
		}},
		{"KAFKA_TLS_CA_FILE", func(name string) error {
			b, err := readFile(name)
			if err != nil {
				return err
			}
			k.ca = x509.NewCertPool()
			if !k.ca.AppendCertsFromPEM(b) {
				return errors.New("no PEM certificate in the file")
			}
			k.caFile = name
			return nil
		}},
		{"KAFKA_TLS_CERT_FILE", text(&k.certFile)},
		{"KAFKA_TLS_KEY_FILE", text(&k.keyFile)},
		{"KAFKA_TLS_SERVER_NAME", text(&k.serverName)},
		{"KAFKA_SASL_MECHANISM", func(s string) error {
			m := strings.ToUpper(s)
			if !slices.Contains(kafka.SASLMechanisms, m) {
				return kafka.ErrUnknownSASLMechanism
			}
			k.mechanism = m
			return nil
		}},
		{"KAFKA_SASL_USER", text(&k.user)},
		{"KAFKA_SASL_PASSWORD", text(&k.password)},
		{"KAFKA_SASL_PASSWORD_FILE", text(&k.passwordFile)},
	}
}

// apply sets c.TLS and c.SASL. Its errors name variables, never the
// password.
func (k kafkaSecurity) apply(c *kafka.Config) error {
	tlsCfg, err := k.tlsConfig()
	if err != nil {
		return err
	}
	password, err := k.readPassword()
	if err != nil {
		return err
	}
	switch {
	case k.mechanism == "" && k.user != "":
		return fmt.Errorf("KAFKA_SASL_USER is set but KAFKA_SASL_MECHANISM is not: set it to %s",
			strings.TrimPrefix(kafka.ErrUnknownSASLMechanism.Error(), "want "))
	case k.mechanism == "" && password != "":
		return fmt.Errorf("%s is set but KAFKA_SASL_MECHANISM is not", k.passwordVar())
	case k.mechanism == "":
		c.TLS = tlsCfg
		return nil
	case k.user == "":
		return fmt.Errorf("KAFKA_SASL_MECHANISM=%s needs KAFKA_SASL_USER", k.mechanism)
	case password == "":
		return fmt.Errorf("KAFKA_SASL_USER is set but neither KAFKA_SASL_PASSWORD nor KAFKA_SASL_PASSWORD_FILE is (KAFKA_SASL_MECHANISM=%s)", k.mechanism)
	}
	mech, err := kafka.NewSASL(k.mechanism, k.user, password)
	if err != nil {
		return fmt.Errorf("KAFKA_SASL_MECHANISM: %v", err) // not reached: the name was checked
	}
	c.TLS, c.SASL = tlsCfg, mech
	return nil
}

// tlsConfig is the brokers' TLS, or nil when KAFKA_TLS is not true; a TLS
// variable set without it is a mistake, not a request for cleartext.
func (k kafkaSecurity) tlsConfig() (*tls.Config, error) {
	if !k.tls {
		for _, v := range []struct{ name, value string }{
			{"KAFKA_TLS_CA_FILE", k.caFile}, {"KAFKA_TLS_CERT_FILE", k.certFile},
			{"KAFKA_TLS_KEY_FILE", k.keyFile}, {"KAFKA_TLS_SERVER_NAME", k.serverName},
		} {
			if v.value != "" {
				return nil, fmt.Errorf("%s is set but KAFKA_TLS is not true: set KAFKA_TLS=true to use it", v.name)
			}
		}
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: k.ca, ServerName: k.serverName}
	switch {
	case k.certFile != "" && k.keyFile == "":
		return nil, errors.New("KAFKA_TLS_CERT_FILE is set but KAFKA_TLS_KEY_FILE is not: a client certificate needs both")
	case k.keyFile != "" && k.certFile == "":
		return nil, errors.New("KAFKA_TLS_KEY_FILE is set but KAFKA_TLS_CERT_FILE is not: a client certificate needs both")
	case k.certFile != "":
		cert, err := readFile(k.certFile)
		if err != nil {
			return nil, fmt.Errorf("KAFKA_TLS_CERT_FILE: %v", err)
		}
		key, err := readFile(k.keyFile)
		if err != nil {
			return nil, fmt.Errorf("KAFKA_TLS_KEY_FILE: %v", err)
		}
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE: %v", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// readPassword is KAFKA_SASL_PASSWORD, or the content of
// KAFKA_SASL_PASSWORD_FILE less its trailing line break; not both.
func (k kafkaSecurity) readPassword() (string, error) {
	switch {
	case k.password != "" && k.passwordFile != "":
		return "", errors.New("KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are both set: set one")
	case k.passwordFile != "":
		b, err := readFile(k.passwordFile)
		if err != nil {
			return "", fmt.Errorf("KAFKA_SASL_PASSWORD_FILE: %v", err)
		}
		p := strings.TrimRight(string(b), "\r\n")
		if p == "" {
			return "", errors.New("KAFKA_SASL_PASSWORD_FILE: the file is empty")
		}
		return p, nil
	}
	return k.password, nil
}

// passwordVar names the variable the password came from.
func (k kafkaSecurity) passwordVar() string {
	if k.passwordFile != "" {
		return "KAFKA_SASL_PASSWORD_FILE"
	}
	return "KAFKA_SASL_PASSWORD"
}
