package fanout

import "github.com/waitroom/waitroom/pkg/queue"

var _ queue.StreamingSessions = (*Hub)(nil)

// Streaming lists, by event, the queued sessions with a stream open on this
// process: what the presence refresh marks present (queue.RunPresence).
// Admitted and ended sessions are left out: presence only matters while a
// session waits.
func (h *Hub) Streaming() map[string][]string {
	h.mu.Lock()
	views := make([]*eventView, 0, len(h.views))
	for _, r := range h.views {
		views = append(views, r.view)
	}
	h.mu.Unlock()
	out := make(map[string][]string, len(views))
	for _, v := range views {
		if ids := v.streaming(); len(ids) > 0 {
			out[v.eventID] = ids
		}
	}
	return out
}

// streaming is the view's watched sessions that are queued.
func (v *eventView) streaming() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	ids := make([]string, 0, len(v.bySession))
	for id, ws := range v.bySession {
		// A watcher not yet started is queued as far as anyone knows.
		if len(ws) > 0 && ws[0].session.Status.Stage() <= queue.StatusQueued.Stage() {
			ids = append(ids, id)
		}
	}
	return ids
}
