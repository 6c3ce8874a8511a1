// Package audit verifies and exports the hash-chained audit log of
// glasshouse, independent of the backend that stores it.
//
// # The chain
//
// Events carry Seq 1, 2, 3, ... with no gaps. Each event's Hash is
// glasshouse.AuditEvent.ComputeHash(): SHA-256 over a canonical JSON of every
// other field, PrevHash included; each PrevHash is the Hash of the event
// before it ("" for event 1). Altering, deleting or reordering stored events
// therefore breaks the chain at the first altered position. Removing events
// from the end (truncation), or rewriting the whole tail with fresh hashes,
// is only detectable against a head (Seq and Hash) recorded elsewhere: keep
// the Head of each Verify or Export outside the database.
//
// # Export format
//
// Export writes JSON Lines (UTF-8): one glasshouse.AuditEvent per line, in
// Seq order, each line a JSON object terminated by "\n", with the fields
//
//	{"seq":1,"time":"2025-01-02T03:04:05.123456789Z","tenant":"default",
//	 "actor":"alice","remote":"10.0.0.1","action":"upload","target":"<asset id>",
//	 "detail":{...},"prev_hash":"","hash":"<64 hex digits>"}
//
// (remote, target and detail are omitted when empty). time is RFC 3339 in
// UTC with nanoseconds, exactly the value that was hashed. The file is
// self-verifying: VerifyExport recomputes every hash from the lines alone.
package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/glasshouse/glasshouse"
)

// BatchSize is how many events Verify and Export read per call.
const BatchSize = 1000

// EventSource reads the stored chain. *sqlite.DB implements it.
type EventSource interface {
	// ListEventsForVerify returns up to limit events of every tenant with
	// Seq > after, in Seq order, exactly as stored; an empty slice at the end.
	ListEventsForVerify(ctx context.Context, after int64, limit int) ([]glasshouse.AuditEvent, error)
}

// LogSource adapts any glasshouse.AuditLog (Events with tenant "") to an
// EventSource.
type LogSource struct{ Log glasshouse.AuditLog }

// ListEventsForVerify implements EventSource.
func (s LogSource) ListEventsForVerify(ctx context.Context, after int64, limit int) ([]glasshouse.AuditEvent, error) {
	return s.Log.Events(ctx, "", after, limit)
}

// Report is the outcome of a verification.
type Report struct {
	OK bool `json:"ok"`
	// Events is the number of events found intact, from Seq 1, before the
	// first problem (all of them when OK).
	Events int `json:"events"`
	// Head is the Hash of the last intact event ("" for an empty chain).
	Head string `json:"head"`
	// FirstBad is the Seq of the first event that is altered, missing or out
	// of place; 0 when OK.
	FirstBad int64 `json:"first_bad,omitempty"`
	// Problem says what is wrong at FirstBad.
	Problem string `json:"problem,omitempty"`
}

// checker follows the chain one event at a time.
type checker struct {
	rep     Report
	nextSeq int64
	bad     bool
}

func newChecker() *checker { return &checker{rep: Report{OK: true}, nextSeq: 1} }

// add checks ev against the chain so far; it returns false at the first
// problem (and keeps returning false).
func (c *checker) add(ev glasshouse.AuditEvent) bool {
	if c.bad {
		return false
	}
	fail := func(seq int64, format string, args ...any) bool {
		c.bad = true
		c.rep.OK = false
		c.rep.FirstBad = seq
		c.rep.Problem = fmt.Sprintf(format, args...)
		return false
	}
	switch {
	case ev.Seq > c.nextSeq:
		if ev.Seq == c.nextSeq+1 {
			return fail(c.nextSeq, "event %d is missing (the next stored event is %d)", c.nextSeq, ev.Seq)
		}
		return fail(c.nextSeq, "events %d to %d are missing (the next stored event is %d)", c.nextSeq, ev.Seq-1, ev.Seq)
	case ev.Seq < c.nextSeq:
		return fail(c.nextSeq, "event %d is out of order: found seq %d where %d was expected", c.nextSeq, ev.Seq, c.nextSeq)
	case ev.PrevHash != c.rep.Head:
		if ev.Seq == 1 {
			return fail(ev.Seq, "event 1 has a prev_hash, want none")
		}
		return fail(ev.Seq, "event %d: prev_hash does not match the hash of event %d (event %d was altered, removed or moved)", ev.Seq, ev.Seq-1, ev.Seq)
	case ev.ComputeHash() != ev.Hash:
		return fail(ev.Seq, "event %d: content does not match its hash (altered or moved)", ev.Seq)
	}
	c.rep.Events++
	c.rep.Head = ev.Hash
	c.nextSeq++
	return true
}

// Verify reads the whole chain from src in Seq order and checks that Seq
// runs 1, 2, 3, ... without gaps, that each PrevHash is the previous event's
// Hash and that each Hash is the event's ComputeHash. A broken chain is
// reported in the Report (OK false, FirstBad, Problem) with a nil error; the
// error is only for failures to read src.
func Verify(ctx context.Context, src EventSource) (Report, error) {
	c := newChecker()
	var after int64
	for {
		evs, err := src.ListEventsForVerify(ctx, after, BatchSize)
		if err != nil {
			return c.rep, fmt.Errorf("audit.Verify: read events after %d: %w", after, err)
		}
		if len(evs) == 0 {
			return c.rep, nil
		}
		for _, ev := range evs {
			if !c.add(ev) {
				return c.rep, nil
			}
		}
		last := evs[len(evs)-1].Seq
		if last <= after { // a source that does not advance
			c.add(glasshouse.AuditEvent{Seq: last})
			return c.rep, nil
		}
		after = last
	}
}

// Export writes every event of src as JSON Lines to w (see the package
// documentation for the format) and returns the chain head, the Hash of the
// last event ("" if none). It writes every stored event even if the chain is
// broken, and then returns the head with an ErrCorrupt error naming the
// first problem, so a damaged log can still be taken away for inspection.
func Export(ctx context.Context, src EventSource, w io.Writer) (head string, err error) {
	const op = "audit.Export"
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	c := newChecker()
	var after int64
	for {
		evs, err := src.ListEventsForVerify(ctx, after, BatchSize)
		if err != nil {
			return head, glasshouse.E(op, nil, err, fmt.Sprintf("read events after %d", after))
		}
		if len(evs) == 0 {
			break
		}
		for _, ev := range evs {
			if err := enc.Encode(ev); err != nil {
				return head, glasshouse.E(op, nil, err, fmt.Sprintf("write event %d", ev.Seq))
			}
			c.add(ev)
			head = ev.Hash
		}
		last := evs[len(evs)-1].Seq
		if last <= after {
			return head, glasshouse.Errorf(op, glasshouse.ErrCorrupt, "event source repeats seq %d", last)
		}
		after = last
	}
	if err := bw.Flush(); err != nil {
		return head, glasshouse.E(op, nil, err, "flush")
	}
	if !c.rep.OK {
		return head, glasshouse.Errorf(op, glasshouse.ErrCorrupt, "exported a broken chain: %s", c.rep.Problem)
	}
	return head, nil
}

// VerifyExport checks a file written by Export, from its lines alone. A
// line that is not a JSON event is reported as the problem at the Seq it
// should have held.
func VerifyExport(ctx context.Context, r io.Reader) (Report, error) {
	c := newChecker()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		if line%BatchSize == 0 {
			if err := ctx.Err(); err != nil {
				return c.rep, fmt.Errorf("audit.VerifyExport: %w", err)
			}
		}
		if len(sc.Bytes()) == 0 {
			continue
		}
		var ev glasshouse.AuditEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			c.rep.OK = false
			c.rep.FirstBad = c.nextSeq
			c.rep.Problem = fmt.Sprintf("line %d is not a JSON event: %v", line, err)
			return c.rep, nil
		}
		if !c.add(ev) {
			return c.rep, nil
		}
	}
	if err := sc.Err(); err != nil {
		return c.rep, fmt.Errorf("audit.VerifyExport: read line %d: %w", line+1, err)
	}
	return c.rep, nil
}
