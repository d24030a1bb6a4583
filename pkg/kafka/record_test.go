package kafka_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/waitroom/waitroom/pkg/kafka"
)

func TestDecodeCheckoutCompleted(t *testing.T) {
	for _, tc := range []struct {
		name, value, ct string
		session, token  string
		wantErr         bool
	}{
		{name: "bare session", value: `{"session_id":"e~abc"}`, session: "e~abc"},
		{name: "full", value: `{"session_id":"e~abc","checkout_token":"t","event_id":"e","completed_at":"2026-01-01T00:00:00Z","id":"m1"}`, session: "e~abc", token: "t"},
		{name: "token only", value: `{"checkout_token":"tok"}`, token: "tok"},
		{name: "unknown fields", value: `{"session_id":"e~x","amount":12,"extra":{"a":1}}`, session: "e~x"},
		{name: "camel case", value: `{"sessionId":"e~y"}`, wantErr: true},
		{name: "empty object", value: `{}`, wantErr: true},
		{name: "not JSON", value: `CHECKOUT_COMPLETED e~abc`, wantErr: true},
		{name: "wrong type", value: `{"session_id":42}`, wantErr: true},
		{name: "empty", value: ``, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &kgo.Record{Value: []byte(tc.value)}
			m, err := kafka.DecodeCheckoutCompleted(rec)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("decoded %q as %v", tc.value, m)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.GetSessionId() != tc.session || m.GetCheckoutToken() != tc.token {
				t.Errorf("got session %q token %q", m.GetSessionId(), m.GetCheckoutToken())
			}
		})
	}
}
