package dashboard

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/cueapi/cueapi/core"
)

// keepAlive is how often an idle event stream sends a comment line (so
// proxies keep it open and a dead client is noticed).
const keepAlive = 25 * time.Second

// feedItem is one line of the live feed, as the browser receives it.
type feedItem struct {
	Kind    string `json:"kind"`
	CueID   string `json:"cue_id,omitempty"`
	CueName string `json:"cue_name,omitempty"`
	ID      string `json:"id,omitempty"`
	Status  string `json:"status,omitempty"`
	Badge   string `json:"badge,omitempty"`
	Class   string `json:"class,omitempty"`
	HTTP    int    `json:"http_status,omitempty"`
	Text    string `json:"text,omitempty"`
	At      string `json:"at"`
}

// events streams the signed-in tenant's changes as Server-Sent Events. One
// subscription to the change feed per open page; no polling.
func (h *Handler) events(w http.ResponseWriter, r *http.Request, s *session) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ctx := r.Context()
	ch, cancel := h.d.Feed.Subscribe(ctx, s.User.ID)
	defer cancel()
	// The server's write timeout would cut the stream: lift it for this
	// response only.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("retry: 2000\n: connected\n\n"))
	fl.Flush()
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.stopping:
			return
		case <-tick.C:
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil {
				return
			}
			fl.Flush()
		case c, ok := <-ch:
			if !ok {
				return
			}
			item := h.describe(r, s, c)
			b, err := json.Marshal(item)
			if err != nil {
				continue
			}
			if _, err := w.Write(append(append([]byte("data: "), b...), '\n', '\n')); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

// describe reads what changed, through the tenant-scoped services.
func (h *Handler) describe(r *http.Request, s *session, c core.Change) feedItem {
	ctx := r.Context()
	it := feedItem{Kind: string(c.Kind), CueID: string(c.CueID), ID: c.EntityID, At: h.d.Clock.Now().Format("15:04:05")}
	if c.CueID != "" {
		if cue, err := h.d.Cues.Get(ctx, s.User, c.CueID); err == nil {
			it.CueName = cue.Name
		}
	}
	switch c.Kind {
	case core.ChangeExecution:
		if c.EntityID == "" {
			it.Text = "fired"
			return it
		}
		e, err := h.d.Executions.Get(ctx, s.User, core.ExecutionID(c.EntityID))
		if err != nil {
			it.Text = "removed"
			return it
		}
		b := execBadge(e)
		it.Status, it.Badge, it.Class = string(e.Status), b.Label, b.Class
		if e.HTTPStatus != nil {
			it.HTTP = *e.HTTPStatus
		}
		it.Text = b.Label
	case core.ChangeAlert:
		it.Text = "alert raised"
	case core.ChangeCue:
		it.Text = "cue changed"
	}
	return it
}
