// Package audittest is the conformance suite for glasshouse.AuditLog
// backends: chain assignment, filtering, concurrency, export, and detection
// of tampering by audit.Verify.
package audittest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/audit"
)

// Tamperer is the backend hook the suite uses to damage the stored chain the
// way an attacker with write access to the database would, bypassing Append.
// Implement it in the backend's tests with raw SQL.
type Tamperer interface {
	// TamperOverwrite replaces the stored event ev.Seq with ev, every field
	// verbatim (Hash and PrevHash included).
	TamperOverwrite(ctx context.Context, ev glasshouse.AuditEvent) error
	// TamperDelete removes the stored event seq.
	TamperDelete(ctx context.Context, seq int64) error
}

// Backend is what the suite needs: the log, a reader of the whole chain and
// the tamper hook.
type Backend interface {
	glasshouse.AuditLog
	audit.EventSource
	Tamperer
}

// Run runs the suite; newBackend must return an empty log for each call.
func Run(t *testing.T, newBackend func(t *testing.T) Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b Backend)
	}{
		{"Empty", testEmpty},
		{"AppendAssigns", testAppendAssigns},
		{"DetailRoundTrip", testDetailRoundTrip},
		{"AppendInvalid", testAppendInvalid},
		{"EventsFilter", testEventsFilter},
		{"ConcurrentAppend", testConcurrentAppend},
		{"TamperEdit", testTamperEdit},
		{"TamperEditRehash", testTamperEditRehash},
		{"TamperDelete", testTamperDelete},
		{"TamperSwap", testTamperSwap},
		{"Export", testExport},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newBackend(t)) })
	}
}

var tenants = []glasshouse.TenantID{"default", "acme"}

func appendN(t *testing.T, b Backend, n int) []glasshouse.AuditEvent {
	t.Helper()
	var out []glasshouse.AuditEvent
	for i := range n {
		a := glasshouse.Actor{Tenant: tenants[i%2], User: fmt.Sprintf("user%d", i), Remote: "192.0.2.7"}
		ev, err := b.Append(context.Background(), glasshouse.NewEvent(a, "view", fmt.Sprintf("asset-%d", i), map[string]any{"i": i, "q": "café ☕"}))
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		out = append(out, ev)
	}
	return out
}

func mustVerify(t *testing.T, b Backend) audit.Report {
	t.Helper()
	rep, err := audit.Verify(context.Background(), b)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep
}

func testEmpty(t *testing.T, b Backend) {
	rep := mustVerify(t, b)
	if !rep.OK || rep.Events != 0 || rep.Head != "" {
		t.Fatalf("empty log: %+v", rep)
	}
	evs, err := b.Events(context.Background(), "", 0, 0)
	if err != nil || len(evs) != 0 {
		t.Fatalf("Events on empty log: %v, %v", evs, err)
	}
}

func sameEvent(a, b glasshouse.AuditEvent) bool {
	if !a.Time.Equal(b.Time) {
		return false
	}
	a.Time, b.Time = time.Time{}, time.Time{}
	var da, db any
	if len(a.Detail) > 0 {
		json.Unmarshal(a.Detail, &da)
	}
	if len(b.Detail) > 0 {
		json.Unmarshal(b.Detail, &db)
	}
	if !reflect.DeepEqual(da, db) {
		return false
	}
	a.Detail, b.Detail = nil, nil
	return reflect.DeepEqual(a, b)
}

func testAppendAssigns(t *testing.T, b Backend) {
	before := time.Now().Add(-time.Second)
	in := glasshouse.NewEvent(glasshouse.Actor{Tenant: "default", User: "alice"}, "upload", "a1", nil)
	in.Seq, in.Hash, in.PrevHash = 99, "forged", "forged" // must be overwritten
	first, err := b.Append(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if first.Seq != 1 || first.PrevHash != "" || first.Hash != first.ComputeHash() {
		t.Fatalf("first event: %+v", first)
	}
	evs := append([]glasshouse.AuditEvent{first}, appendN(t, b, 9)...)
	after := time.Now().Add(time.Second)
	for i, ev := range evs {
		if ev.Seq != int64(i+1) {
			t.Errorf("event %d has seq %d", i+1, ev.Seq)
		}
		if ev.Time.Location() != time.UTC || ev.Time.Before(before) || ev.Time.After(after) {
			t.Errorf("event %d time %v not now in UTC", ev.Seq, ev.Time)
		}
		if i > 0 && ev.PrevHash != evs[i-1].Hash {
			t.Errorf("event %d prev_hash %q, want %q", ev.Seq, ev.PrevHash, evs[i-1].Hash)
		}
		if ev.Hash != ev.ComputeHash() || len(ev.Hash) != 64 {
			t.Errorf("event %d hash %q, want %q", ev.Seq, ev.Hash, ev.ComputeHash())
		}
	}
	stored, err := b.Events(context.Background(), "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(evs) {
		t.Fatalf("stored %d events, appended %d", len(stored), len(evs))
	}
	for i := range evs {
		if !sameEvent(stored[i], evs[i]) {
			t.Errorf("stored event differs from appended:\n got %+v\nwant %+v", stored[i], evs[i])
		}
		if stored[i].Hash != stored[i].ComputeHash() {
			t.Errorf("stored event %d does not hash to its Hash: time or detail did not round-trip", stored[i].Seq)
		}
	}
	rep := mustVerify(t, b)
	if !rep.OK || rep.Events != 10 || rep.Head != evs[9].Hash {
		t.Fatalf("Verify: %+v", rep)
	}
}

func testDetailRoundTrip(t *testing.T, b Backend) {
	ev := glasshouse.NewEvent(glasshouse.System("default"), "analyze", "a1", nil)
	ev.Detail = json.RawMessage(`{ "zeta": [3, 2, 1], "alpha": {"y": null, "x": 1.5}, "s": "<&>" }`)
	got, err := b.Append(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := b.Events(context.Background(), "default", 0, 0)
	if err != nil || len(stored) != 1 {
		t.Fatalf("Events: %v %v", stored, err)
	}
	if stored[0].Hash != got.Hash || stored[0].ComputeHash() != got.Hash {
		t.Fatalf("detail did not round-trip: stored %s", stored[0].Detail)
	}
	if rep := mustVerify(t, b); !rep.OK {
		t.Fatalf("Verify: %+v", rep)
	}
}

func testAppendInvalid(t *testing.T, b Backend) {
	appendN(t, b, 2)
	_, err := b.Append(context.Background(), glasshouse.AuditEvent{Tenant: "default", Actor: "x"})
	if !errors.Is(err, glasshouse.ErrInvalid) {
		t.Fatalf("event without action: want ErrInvalid, got %v", err)
	}
	bad := glasshouse.NewEvent(glasshouse.System("default"), "view", "", nil)
	bad.Detail = json.RawMessage(`{not json`)
	if _, err := b.Append(context.Background(), bad); !errors.Is(err, glasshouse.ErrInvalid) {
		t.Fatalf("event with malformed detail: want ErrInvalid, got %v", err)
	}
	ev := appendN(t, b, 1)[0]
	if ev.Seq != 3 {
		t.Fatalf("a rejected append used a seq: next seq is %d, want 3", ev.Seq)
	}
	if rep := mustVerify(t, b); !rep.OK || rep.Events != 3 {
		t.Fatalf("Verify: %+v", rep)
	}
}

func testEventsFilter(t *testing.T, b Backend) {
	ctx := context.Background()
	evs := appendN(t, b, 10) // tenants alternate: default, acme, default, ...
	got, err := b.Events(ctx, "acme", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("acme has %d events, want 5", len(got))
	}
	for i, ev := range got {
		if ev.Tenant != "acme" || ev.Seq != evs[2*i+1].Seq {
			t.Errorf("acme event %d: %+v", i, ev)
		}
	}
	got, err = b.Events(ctx, "default", 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Seq != 5 || got[1].Seq != 7 {
		t.Fatalf("default after 3 limit 2: %+v", got)
	}
	got, err = b.Events(ctx, "", 8, 0)
	if err != nil || len(got) != 2 || got[0].Seq != 9 || got[1].Seq != 10 {
		t.Fatalf("all after 8: %+v %v", got, err)
	}
	got, err = b.Events(ctx, "nobody", 0, 0)
	if err != nil || len(got) != 0 {
		t.Fatalf("unknown tenant: %+v %v", got, err)
	}
}

func testConcurrentAppend(t *testing.T, b Backend) {
	const workers, each = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				ev := glasshouse.NewEvent(glasshouse.Actor{Tenant: "default", User: fmt.Sprint("w", w)}, "view", fmt.Sprint(i), nil)
				if _, err := b.Append(context.Background(), ev); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Append: %v", err)
	}
	rep := mustVerify(t, b)
	if !rep.OK || rep.Events != workers*each {
		t.Fatalf("after concurrent appends: %+v", rep)
	}
}

// expectBad verifies b and checks the first problem is at seq.
func expectBad(t *testing.T, b Backend, seq int64) audit.Report {
	t.Helper()
	rep := mustVerify(t, b)
	if rep.OK || rep.FirstBad != seq || rep.Problem == "" || rep.Events != int(seq-1) {
		t.Fatalf("want the chain broken at %d with %d good events, got %+v", seq, seq-1, rep)
	}
	return rep
}

func stored(t *testing.T, b Backend, seq int64) glasshouse.AuditEvent {
	t.Helper()
	evs, err := b.Events(context.Background(), "", seq-1, 1)
	if err != nil || len(evs) != 1 || evs[0].Seq != seq {
		t.Fatalf("read event %d: %+v %v", seq, evs, err)
	}
	return evs[0]
}

func testTamperEdit(t *testing.T, b Backend) {
	ctx := context.Background()
	appendN(t, b, 8)
	// A quiet edit of one field of event 5.
	ev := stored(t, b, 5)
	ev.Actor = "someone-else"
	if err := b.TamperOverwrite(ctx, ev); err != nil {
		t.Fatal(err)
	}
	rep := expectBad(t, b, 5)
	t.Logf("edit: %s", rep.Problem)

	// Undo, then edit the detail of the first event.
	ev.Actor = "user4"
	if err := b.TamperOverwrite(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if rep := mustVerify(t, b); !rep.OK {
		t.Fatalf("after restoring event 5: %+v", rep)
	}
	first := stored(t, b, 1)
	first.Detail = json.RawMessage(`{"i":0,"q":"changed"}`)
	if err := b.TamperOverwrite(ctx, first); err != nil {
		t.Fatal(err)
	}
	expectBad(t, b, 1)
}

func testTamperEditRehash(t *testing.T, b Backend) {
	appendN(t, b, 8)
	// The attacker also recomputes event 4's own hash: event 5 no longer
	// links to it.
	ev := stored(t, b, 4)
	ev.Action = "nothing-to-see"
	ev.Hash = ev.ComputeHash()
	if err := b.TamperOverwrite(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	expectBad(t, b, 5)
}

func testTamperDelete(t *testing.T, b Backend) {
	appendN(t, b, 8)
	if err := b.TamperDelete(context.Background(), 6); err != nil {
		t.Fatal(err)
	}
	rep := expectBad(t, b, 6)
	if !strings.Contains(rep.Problem, "missing") {
		t.Errorf("problem %q should say the event is missing", rep.Problem)
	}
}

func testTamperSwap(t *testing.T, b Backend) {
	ctx := context.Background()
	appendN(t, b, 8)
	// Reorder: events 3 and 6 trade places in the sequence.
	e3, e6 := stored(t, b, 3), stored(t, b, 6)
	e3.Seq, e6.Seq = 6, 3
	if err := b.TamperOverwrite(ctx, e6); err != nil {
		t.Fatal(err)
	}
	if err := b.TamperOverwrite(ctx, e3); err != nil {
		t.Fatal(err)
	}
	expectBad(t, b, 3)
}

func testExport(t *testing.T, b Backend) {
	ctx := context.Background()
	evs := appendN(t, b, 12)
	var buf bytes.Buffer
	head, err := audit.Export(ctx, b, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if head != evs[11].Hash {
		t.Fatalf("Export head %q, want %q", head, evs[11].Hash)
	}
	if n := strings.Count(buf.String(), "\n"); n != 12 {
		t.Fatalf("export has %d lines, want 12", n)
	}
	rep, err := audit.VerifyExport(ctx, bytes.NewReader(buf.Bytes()))
	if err != nil || !rep.OK || rep.Events != 12 || rep.Head != head {
		t.Fatalf("VerifyExport: %+v %v", rep, err)
	}
	// Tamper with the database: the export says so and still writes all.
	ev := stored(t, b, 7)
	ev.Target = "elsewhere"
	if err := b.TamperOverwrite(ctx, ev); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if _, err := audit.Export(ctx, b, &buf); !errors.Is(err, glasshouse.ErrCorrupt) {
		t.Fatalf("Export of a tampered chain: want ErrCorrupt, got %v", err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 12 {
		t.Fatalf("tampered export has %d lines, want 12", n)
	}
	rep, err = audit.VerifyExport(ctx, bytes.NewReader(buf.Bytes()))
	if err != nil || rep.OK || rep.FirstBad != 7 {
		t.Fatalf("VerifyExport of tampered export: %+v %v", rep, err)
	}
}
