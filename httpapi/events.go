package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/glasshouse/glasshouse"
)

// Intervals of the event stream: how often job states are read on the
// server, and how often an idle stream sends a comment to stay open.
const (
	eventPoll      = 500 * time.Millisecond
	eventHeartbeat = 15 * time.Second
)

// jobEvent is one change of a job, sent as `event: job`.
type jobEvent struct {
	Job      int64               `json:"job"`
	Asset    glasshouse.AssetID  `json:"asset"`
	Kind     string              `json:"kind"`
	State    glasshouse.JobState `json:"state"`
	Progress float64             `json:"progress"`
	Attempts int                 `json:"attempts"`
	Error    string              `json:"error,omitempty"`
}

// events streams job changes of the caller's tenant as server-sent events,
// so a page follows processing without polling. The first message carries
// every job the tenant has (newest 1000); after that only changes.
func (a *api) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		a.writeError(w, r, "events", glasshouse.Errorf("events", glasshouse.ErrUnavailable, "streaming not supported by this connection"))
		return
	}
	ctx := r.Context()
	actor := actorFrom(r)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	fl.Flush()
	seen := map[int64]jobEvent{}
	poll := time.NewTicker(eventPoll)
	defer poll.Stop()
	lastWrite := time.Now()
	failing := false
	for {
		jobs, err := a.svc.Jobs(ctx, actor, "")
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil && !failing: // once per run of failures, not every poll
			a.opts.Logger.Warn("event stream: list jobs", "err", err)
		case err == nil:
			// Forget jobs that left the listing, so a long-lived stream
			// holds only what the queue holds.
			cur := make(map[int64]jobEvent, len(jobs))
			for _, j := range jobs {
				if old, ok := seen[j.ID]; ok {
					cur[j.ID] = old
				}
			}
			seen = cur
		}
		failing = err != nil
		for _, j := range jobs {
			ev := jobEvent{Job: j.ID, Asset: j.Asset, Kind: j.Kind, State: j.State, Progress: j.Progress, Attempts: j.Attempts, Error: j.LastError}
			if old, ok := seen[j.ID]; ok && old == ev {
				continue
			}
			seen[j.ID] = ev
			b, _ := json.Marshal(ev)
			if _, err := fmt.Fprintf(w, "event: job\ndata: %s\n\n", b); err != nil {
				return
			}
			lastWrite = time.Now()
		}
		if time.Since(lastWrite) >= eventHeartbeat {
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			lastWrite = time.Now()
		}
		fl.Flush()
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		}
	}
}
