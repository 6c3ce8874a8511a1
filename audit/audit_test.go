package audit

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
)

// memSource is a chain held in a slice, in stored order.
type memSource []glasshouse.AuditEvent

func (m memSource) ListEventsForVerify(_ context.Context, after int64, limit int) ([]glasshouse.AuditEvent, error) {
	var out []glasshouse.AuditEvent
	for _, ev := range m {
		if ev.Seq > after && len(out) < limit {
			out = append(out, ev)
		}
	}
	return out, nil
}

func chain(n int) memSource {
	var m memSource
	prev := ""
	t0 := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC)
	for i := 1; i <= n; i++ {
		ev := glasshouse.NewEvent(glasshouse.Actor{Tenant: "t", User: "u"}, "view", "asset", map[string]int{"i": i})
		ev.Seq = int64(i)
		ev.Time = t0.Add(time.Duration(i) * time.Millisecond)
		ev.PrevHash = prev
		ev.Hash = ev.ComputeHash()
		prev = ev.Hash
		m = append(m, ev)
	}
	return m
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	good := chain(2500) // more than two batches
	rep, err := Verify(ctx, good)
	if err != nil || !rep.OK || rep.Events != 2500 || rep.Head != good[2499].Hash || rep.FirstBad != 0 {
		t.Fatalf("good chain: %+v, %v", rep, err)
	}
	rep, err = Verify(ctx, memSource(nil))
	if err != nil || !rep.OK || rep.Events != 0 || rep.Head != "" {
		t.Fatalf("empty chain: %+v, %v", rep, err)
	}

	cases := []struct {
		name   string
		tamper func(m memSource) memSource
		bad    int64
		events int
	}{
		{"edit", func(m memSource) memSource { m[1499].Actor = "mallory"; return m }, 1500, 1499},
		{"edit first", func(m memSource) memSource { m[0].Target = "x"; return m }, 1, 0},
		{"edit and rehash", func(m memSource) memSource { m[9].Action = "none"; m[9].Hash = m[9].ComputeHash(); return m }, 11, 10},
		{"delete", func(m memSource) memSource { return append(m[:4:4], m[5:]...) }, 5, 4},
		{"delete first", func(m memSource) memSource { return m[1:] }, 1, 0},
		{"delete two", func(m memSource) memSource { return append(m[:4:4], m[6:]...) }, 5, 4},
		{"swap contents", func(m memSource) memSource {
			a, b := m[2], m[6]
			a.Seq, b.Seq = 7, 3
			m[2], m[6] = b, a
			return m
		}, 3, 2},
		{"truncate", func(m memSource) memSource { return m[:2] }, 0, 2}, // truncation: undetectable without a head
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := c.tamper(append(memSource(nil), chain(2500)...))
			rep, err := Verify(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			if c.bad == 0 {
				if !rep.OK {
					t.Fatalf("want OK, got %+v", rep)
				}
				return
			}
			if rep.OK || rep.FirstBad != c.bad || rep.Events != c.events || rep.Problem == "" {
				t.Fatalf("want FirstBad %d after %d good events, got %+v", c.bad, c.events, rep)
			}
		})
	}
}

type failSource struct{}

func (failSource) ListEventsForVerify(context.Context, int64, int) ([]glasshouse.AuditEvent, error) {
	return nil, glasshouse.Errorf("test", glasshouse.ErrUnavailable, "disk gone")
}

func TestVerifySourceError(t *testing.T) {
	_, err := Verify(context.Background(), failSource{})
	if !errors.Is(err, glasshouse.ErrUnavailable) {
		t.Fatalf("want the source's error, got %v", err)
	}
}

func TestExport(t *testing.T) {
	ctx := context.Background()
	m := chain(1200)
	var buf bytes.Buffer
	head, err := Export(ctx, m, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if head != m[len(m)-1].Hash {
		t.Fatalf("head %q, want %q", head, m[len(m)-1].Hash)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 1200 {
		t.Fatalf("%d lines, want 1200", len(lines))
	}
	if !strings.HasPrefix(lines[0], `{"seq":1,"time":"2025-03-04T05:06:07.124456789Z",`) {
		t.Fatalf("first line %s", lines[0])
	}
	rep, err := VerifyExport(ctx, bytes.NewReader(buf.Bytes()))
	if err != nil || !rep.OK || rep.Events != 1200 || rep.Head != head {
		t.Fatalf("verify export: %+v, %v", rep, err)
	}

	// Edit one line of the file: detected at that event.
	lines[41] = strings.Replace(lines[41], `"actor":"u"`, `"actor":"v"`, 1)
	rep, err = VerifyExport(ctx, strings.NewReader(strings.Join(lines, "\n")+"\n"))
	if err != nil || rep.OK || rep.FirstBad != 42 {
		t.Fatalf("edited export: %+v, %v", rep, err)
	}
	// A garbage line.
	lines[41] = "{not json"
	rep, err = VerifyExport(ctx, strings.NewReader(strings.Join(lines, "\n")))
	if err != nil || rep.OK || rep.FirstBad != 42 {
		t.Fatalf("garbage export: %+v, %v", rep, err)
	}

	// Exporting a broken chain writes everything and says so.
	m[99].Action = "delete"
	buf.Reset()
	head, err = Export(ctx, m, &buf)
	if !errors.Is(err, glasshouse.ErrCorrupt) || head != m[len(m)-1].Hash || strings.Count(buf.String(), "\n") != 1200 {
		t.Fatalf("broken export: head %q err %v, %d lines", head, err, strings.Count(buf.String(), "\n"))
	}
}

func BenchmarkVerify(b *testing.B) {
	m := chain(10000)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if rep, err := Verify(ctx, m); err != nil || !rep.OK {
			b.Fatal(rep, err)
		}
	}
	b.ReportMetric(float64(10000*b.N)/b.Elapsed().Seconds(), "events/s")
}
