package wire

import (
	"strings"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/pkg/queue"
)

// EventUpdate reads an UpdateEvent request. An unknown or read-only
// update_mask path is a *queue.InvalidArgumentError naming it; paths may be
// written bare ("state") or from the request ("event.state").
func EventUpdate(req *waitroomv1.UpdateEventRequest) (queue.EventUpdate, error) {
	var fields queue.EventFields
	for _, p := range req.GetUpdateMask().GetPaths() {
		f, ok := queue.ParseEventField(strings.TrimPrefix(p, "event."))
		if !ok {
			return queue.EventUpdate{}, &queue.InvalidArgumentError{Field: "update_mask",
				Reason: "unknown or read-only path " + quote(p) + " (settable: " + strings.Join(queue.AllEventFields.Names(), ", ") + ")"}
		}
		fields |= queue.EventFields(f)
	}
	e, err := EventFromProto(req.GetEvent())
	if err != nil {
		return queue.EventUpdate{}, err
	}
	return queue.EventUpdate{Event: e, Fields: fields}, nil
}

// quote quotes a client's path for an error message, cut to a readable length.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}
