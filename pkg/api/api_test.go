package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/emptypb"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/pkg/api"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

// noTokens is a token issuer for tests that admit nobody.
type noTokens struct{}

func (noTokens) Issue(queue.Session) (string, error) { return "", errors.New("no tokens here") }
func (noTokens) SessionID(string) (string, error) {
	return "", &queue.InvalidArgumentError{Field: "checkout_token", Reason: "no tokens here"}
}

// serve mounts both services over an embedded store on a test HTTP server.
func serve(t *testing.T, cfg api.Config) *httptest.Server {
	t.Helper()
	store := memstore.New(memstore.Config{})
	svc := queue.NewService(store, noTokens{}, fanout.New(store, fanout.Config{}), queue.Config{})
	t.Cleanup(svc.Close)
	mux := http.NewServeMux()
	mux.Handle(api.NewWaitroomServiceHandler(svc, cfg))
	mux.Handle(api.NewEventAdminServiceHandler(svc, cfg))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestZeroConfig: the zero Config serves the visitors' API and refuses the
// admin API.
func TestZeroConfig(t *testing.T) {
	srv := serve(t, api.Config{})
	c := waitroomv1connect.NewWaitroomServiceClient(srv.Client(), srv.URL)
	res, err := c.JoinQueue(t.Context(), connect.NewRequest(&waitroomv1.JoinQueueRequest{UserId: "u", EventId: "zero"}))
	if err != nil || res.Msg.GetPosition() != 1 || !res.Msg.Created {
		t.Fatalf("JoinQueue = %v, %v", res, err)
	}
	admin := waitroomv1connect.NewEventAdminServiceClient(srv.Client(), srv.URL)
	_, err = admin.ListEvents(t.Context(), connect.NewRequest(&waitroomv1.ListEventsRequest{}))
	if connect.CodeOf(err) != connect.CodePermissionDenied || !strings.Contains(err.Error(), "admin API disabled: set WAITROOM_ADMIN_TOKEN") {
		t.Fatalf("ListEvents without an admin token configured: %v", err)
	}
}

// TestEveryAdminMethodIsGuarded calls every method the EventAdminService
// descriptor lists, so a method added to the proto is checked too: none
// answers without the right bearer token.
func TestEveryAdminMethodIsGuarded(t *testing.T) {
	const token = "api-test-admin-token"
	sd := waitroomv1.File_waitroom_v1_admin_proto.Services().ByName("EventAdminService")
	if sd == nil || sd.Methods().Len() == 0 {
		t.Fatal("EventAdminService not found in its file descriptor")
	}
	for _, c := range []struct {
		name, configured, sent string
		code                   connect.Code
		msg                    string
	}{
		{"disabled", "", "Bearer " + token, connect.CodePermissionDenied, "admin API disabled: set WAITROOM_ADMIN_TOKEN"},
		{"no header", token, "", connect.CodeUnauthenticated, "missing or wrong admin bearer token"},
		{"wrong token", token, "Bearer " + token + "x", connect.CodeUnauthenticated, "missing or wrong admin bearer token"},
	} {
		srv := serve(t, api.Config{AdminToken: c.configured})
		for i := range sd.Methods().Len() {
			m := sd.Methods().Get(i)
			if m.IsStreamingClient() {
				t.Fatalf("%s streams from the client: teach this test to call it", m.FullName())
			}
			// An empty message is a valid encoding of every request type.
			call := connect.NewClient[emptypb.Empty, emptypb.Empty](srv.Client(), srv.URL+"/"+string(sd.FullName())+"/"+string(m.Name()))
			req := connect.NewRequest(&emptypb.Empty{})
			if c.sent != "" {
				req.Header().Set("Authorization", c.sent)
			}
			var err error
			if m.IsStreamingServer() {
				var stream *connect.ServerStreamForClient[emptypb.Empty]
				if stream, err = call.CallServerStream(context.Background(), req); err == nil {
					if stream.Receive() {
						t.Errorf("%s, %s: a message reached an unauthenticated caller", c.name, m.Name())
					}
					err = stream.Err()
					stream.Close()
				}
			} else {
				_, err = call.CallUnary(context.Background(), req)
			}
			if connect.CodeOf(err) != c.code || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("%s, %s: %v; want %v %q", c.name, m.Name(), err, c.code, c.msg)
			}
		}
	}
}
