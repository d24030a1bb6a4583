package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/pkg/api"
)

// TestAdminJSONRefusesWhatItDoesNotKnow posts JSON as an operator's curl
// would: a misspelt enum name or field is InvalidArgument naming it, and
// nothing is stored; the visitors' API keeps Connect's lenient decoding.
func TestAdminJSONRefusesWhatItDoesNotKnow(t *testing.T) {
	const token = "strict-json-admin-token"
	srv := serve(t, api.Config{AdminToken: token})
	post := func(procedure, body string, admin bool) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, srv.URL+procedure, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if admin {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	put := waitroomv1connect.EventAdminServicePutEventProcedure
	for _, c := range []struct{ body, want string }{
		{`{"event": {"event_id": "typo", "state": "EVENT_STATE_PAUSE"}}`, "EVENT_STATE_PAUSE"},
		{`{"event": {"event_id": "typo", "max_concurent": 5}}`, "max_concurent"},
		{`{"event": {"event_id": "typo"}, "force": true}`, "force"},
	} {
		code, body := post(put, c.body, true)
		if code != http.StatusBadRequest || !strings.Contains(body, `"invalid_argument"`) || !strings.Contains(body, c.want) {
			t.Errorf("PutEvent %s = %d %s; want 400 invalid_argument naming %q", c.body, code, body, c.want)
		}
	}
	admin := waitroomv1connect.NewEventAdminServiceClient(srv.Client(), srv.URL)
	req := connect.NewRequest(&waitroomv1.GetEventRequest{EventId: "typo"})
	req.Header().Set("Authorization", "Bearer "+token)
	if _, err := admin.GetEvent(t.Context(), req); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("GetEvent after refused puts: %v; want NotFound", err)
	}
	if code, body := post(put, `{"event": {"event_id": "typo", "state": "EVENT_STATE_PAUSED"}}`, true); code != http.StatusOK || !strings.Contains(body, "EVENT_STATE_PAUSED") {
		t.Fatalf("a well-formed PutEvent = %d %s", code, body)
	}
	// A visitor's newer client may send fields this server does not know.
	join := waitroomv1connect.WaitroomServiceJoinQueueProcedure
	if code, body := post(join, `{"user_id": "u", "event_id": "typo", "from_a_newer_client": 1}`, false); code != http.StatusOK {
		t.Fatalf("JoinQueue with an unknown field = %d %s; want 200", code, body)
	}
}
