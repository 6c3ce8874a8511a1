package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
)

// TestEventStream reads the job event stream over real HTTP: the current
// jobs first, then only what changes.
func TestEventStream(t *testing.T) {
	svc := newFake()
	svc.jobs = []glasshouse.Job{
		{ID: 1, Tenant: glasshouse.DefaultTenant, Asset: someID, Kind: "ocr", State: glasshouse.JobQueued},
		{ID: 2, Tenant: glasshouse.DefaultTenant, Asset: someID, Kind: "speech", State: glasshouse.JobRunning, Progress: 0.5},
	}
	srv := httptest.NewServer(newAuthed(t, svc, Options{}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	next := func() jobEvent {
		t.Helper()
		var ev string
		for sc.Scan() {
			line := sc.Text()
			if line == "event: job" {
				ev = line
				continue
			}
			if ev != "" && strings.HasPrefix(line, "data: ") {
				var je jobEvent
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &je); err != nil {
					t.Fatalf("bad event data %q: %v", line, err)
				}
				return je
			}
		}
		t.Fatalf("stream ended: %v", sc.Err())
		return jobEvent{}
	}
	got := map[int64]jobEvent{}
	for i := 0; i < 2; i++ {
		e := next()
		got[e.Job] = e
	}
	if got[1].State != glasshouse.JobQueued || got[2].Progress != 0.5 || got[2].Kind != "speech" {
		t.Fatalf("initial events %+v", got)
	}
	svc.mu.Lock()
	svc.jobs[1].State, svc.jobs[1].Progress = glasshouse.JobDone, 1
	svc.mu.Unlock()
	e := next()
	if e.Job != 2 || e.State != glasshouse.JobDone || e.Progress != 1 {
		t.Fatalf("change event %+v, want job 2 done", e)
	}
}
