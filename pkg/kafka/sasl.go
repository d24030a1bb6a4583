package kafka

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// The SASL mechanisms NewSASL builds, by the names brokers give them.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// SASLMechanisms are the names NewSASL knows.
var SASLMechanisms = []string{SASLPlain, SASLScramSHA256, SASLScramSHA512}

// ErrUnknownSASLMechanism is NewSASL's answer to a name it does not know.
var ErrUnknownSASLMechanism = fmt.Errorf("want %s, %s or %s", SASLPlain, SASLScramSHA256, SASLScramSHA512)

// NewSASL returns the mechanism named (in any case) that authenticates as
// user with password. Its errors never quote the password.
func NewSASL(mechanism, user, password string) (sasl.Mechanism, error) {
	mechanism = strings.ToUpper(mechanism)
	switch {
	case !slices.Contains(SASLMechanisms, mechanism):
		return nil, ErrUnknownSASLMechanism
	case user == "":
		return nil, errors.New("no user name")
	case password == "":
		return nil, errors.New("no password")
	}
	switch mechanism {
	case SASLPlain:
		return plain.Auth{User: user, Pass: password}.AsMechanism(), nil
	case SASLScramSHA256:
		return scram.Auth{User: user, Pass: password}.AsSha256Mechanism(), nil
	default: // SASLScramSHA512
		return scram.Auth{User: user, Pass: password}.AsSha512Mechanism(), nil
	}
}
