// Package indextest is the conformance suite every search.Index must pass.
//
//	func TestConformance(t *testing.T) {
//		indextest.Run(t, func(t *testing.T) search.Index { return openFreshIndex(t) })
//	}
//
// newIndex must return an empty index; the suite loads its own fixtures.
package indextest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/search"
)

// Tenants and collections of the fixture.
const (
	T1 glasshouse.TenantID = "t1"
	T2 glasshouse.TenantID = "t2"
)

func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

type asset struct {
	id         glasshouse.AssetID
	tenant     glasshouse.TenantID
	collection string
	kind       glasshouse.MediaKind
	created    time.Time
}

var (
	a1 = asset{"a1", T1, "news", glasshouse.KindVideo, day("2025-06-15")}
	a2 = asset{"a2", T1, "news", glasshouse.KindVideo, day("2025-07-10")}
	a3 = asset{"a3", T1, "archive", glasshouse.KindAudio, day("2025-08-01")}
	a4 = asset{"a4", T1, "archive", glasshouse.KindImage, day("2025-05-01")}
	a5 = asset{"a5", T2, "news", glasshouse.KindVideo, day("2025-06-15")}
)

func seg(a asset, kind, source string, start, end int64, text string, conf float64) glasshouse.Segment {
	return glasshouse.Segment{
		Asset: a.id, Tenant: a.tenant, Collection: a.collection, MediaKind: a.kind,
		Kind: kind, Source: source, StartMS: start, EndMS: end, Text: text, Confidence: conf, Created: a.created,
	}
}

// Fixture returns the suite's segments: five assets, two tenants, two
// collections, every segment kind.
func Fixture() []glasshouse.Segment {
	const (
		sp, tx, lb = glasshouse.SegSpeech, glasshouse.SegText, glasshouse.SegLabel
	)
	return []glasshouse.Segment{
		seg(a1, sp, "speech", 0, 5000, "the evacuation route goes north through the park", 0.9),
		seg(a1, sp, "speech", 5000, 9000, "please stay calm and follow the signs", 0.85),
		seg(a1, tx, "ocr", 0, 5000, "EVACUATION ROUTE NORTH", 0.8),
		seg(a1, lb, "labels", 0, 5000, "person", 0.9),
		seg(a1, glasshouse.SegName, search.SourceAsset, 0, 9000, "briefing.mp4", 1),

		seg(a2, sp, "speech", 0, 4000, "city council meeting about the budget", 0.9),
		seg(a2, tx, "ocr", 0, 4000, "CITY COUNCIL", 0.9),
		seg(a2, lb, "labels", 1000, 3000, "dog", 0.7),
		seg(a2, lb, "labels", 6000, 8000, "dog", 0.6),

		seg(a3, sp, "speech", 0, 3000, "go forward ten meters", 0.95),
		seg(a3, glasshouse.SegKeyword, "keywords", 0, 3000, "forward", 0.5),

		seg(a4, tx, "ocr", 0, 0, "fire station open day", 0.7),
		seg(a4, lb, "labels", 0, 0, "person", 0.8),
		seg(a4, lb, "labels", 0, 0, "traffic light", 0.6),
		seg(a4, glasshouse.SegNote, search.SourceAsset, 0, 0, "donated by the fire brigade", 1),

		seg(a5, sp, "speech", 0, 5000, "evacuation of the harbour in the city", 0.9),
	}
}

// Run runs the suite. newIndex must return a new, empty index.
func Run(t *testing.T, newIndex func(t *testing.T) search.Index) {
	ctx := context.Background()
	loaded := func(t *testing.T) search.Index {
		t.Helper()
		x := newIndex(t)
		if err := x.Upsert(ctx, Fixture()...); err != nil {
			t.Fatalf("Upsert(fixture): %v", err)
		}
		return x
	}

	t.Run("Operators", func(t *testing.T) {
		x := loaded(t)
		for _, c := range []struct {
			text string
			want []glasshouse.AssetID // in any order
		}{
			{"evacuation", ids("a1")},
			{"EVACUATION", ids("a1")},
			{"council", ids("a2")},
			{`"route north"`, ids("a1")},
			{`"north route"`, nil},
			{`"council meeting about"`, ids("a2")},
			{"evac*", ids("a1")},
			{"meet*", ids("a2")},
			{`"council meet"*`, ids("a2")},
			{"budget OR meters", ids("a2", "a3")},
			{"council budget", ids("a2")},     // same segment
			{"council AND budget", ids("a2")}, // explicit AND
			{"evacuation budget", nil},        // different assets
			{"(city OR evacuation) -budget", ids("a1")},
			{"(city OR evacuation) NOT budget", ids("a1")},
			{"city OR evacuation -budget", ids("a1", "a2")}, // AND binds tighter
			{"-(budget OR meters) (city OR evacuation OR forward)", ids("a1")},
			{"fire", ids("a4")},
			{"brigade", ids("a4")},  // note
			{"briefing", ids("a1")}, // file name
			{"mp4", ids("a1")},
			{"nonexistentword", nil},
			{"or", nil}, // lower-case or is a word
		} {
			got := searchIDs(t, x, search.Query{Tenant: T1, Text: c.text})
			assertSet(t, c.text, got, c.want)
		}
	})

	t.Run("Fields", func(t *testing.T) {
		x := loaded(t)
		for _, c := range []struct {
			text string
			want []glasshouse.AssetID
		}{
			{"in:speech evacuation", ids("a1")},
			{"in:text evacuation", ids("a1")},
			{"in:speech fire", nil},
			{"in:text fire", ids("a4")},
			{"in:note fire", ids("a4")},
			{"in:note,text fire", ids("a4")},
			{"in:speech in:keyword forward", ids("a3")},
			{"in:keyword forward", ids("a3")},
			{"in:name briefing", ids("a1")},
			{"in:speech briefing", nil},
			{"in:label person", ids("a1", "a4")},
			{"label:dog", ids("a2")},
			{"label:DOG", ids("a2")},
			{"label:person", ids("a1", "a4")},
			{`label:"traffic light"`, ids("a4")},
			{"label:traffic", nil}, // labels match exactly
			{"label:traf*", ids("a4")},
			{"label:person AND in:text evacuation", ids("a1")},
			{"label:person in:text fire", ids("a4")},
			{"label:dog AND in:text evacuation", nil},
			{"label:person -label:dog", ids("a1", "a4")},
			{"label:person label:dog", nil},
			{"label:dog OR label:person", ids("a1", "a2", "a4")},
			{"in:speech (route OR meeting)", ids("a1", "a2")},
			{"in:speech", ids("a1", "a2", "a3")},
			{"type:audio forward", ids("a3")},
			{"type:video forward", nil},
			{"type:audio", ids("a3")},
			{"type:video,audio city", ids("a2")},
			{"type:image", ids("a4")},
			{"collection:archive fire", ids("a4")},
			{"collection:news fire", nil},
			{"collection:archive", ids("a3", "a4")},
			{"collection:archive collection:news council", ids("a2")}, // alternatives
			{"after:2025-07-01 (city OR evacuation)", ids("a2")},
			{"before:2025-07-01 (city OR evacuation)", ids("a1")},
			{"after:2025-06-15 before:2025-06-16 evacuation", ids("a1")},
			{"after:2025-06-16 before:2025-06-15", nil},
			{"type:video -label:dog", ids("a1")},
			{"council OR type:audio", ids("a2", "a3")},
			{"-collection:news (fire OR council)", ids("a4")},
			{"(label:dog OR fire) -type:image", ids("a2")},
		} {
			got := searchIDs(t, x, search.Query{Tenant: T1, Text: c.text})
			assertSet(t, c.text, got, c.want)
		}
	})

	t.Run("Hits", func(t *testing.T) {
		x := loaded(t)
		h := mustSearch(t, x, search.Query{Tenant: T1, Text: "in:speech evacuation"})
		if len(h.Assets) != 1 || len(h.Assets[0].Hits) != 1 {
			t.Fatalf("in:speech evacuation: %+v", h)
		}
		hit := h.Assets[0].Hits[0]
		if hit.Kind != glasshouse.SegSpeech || hit.StartMS != 0 || hit.EndMS != 5000 || hit.Source != "speech" || hit.Confidence != 0.9 {
			t.Errorf("hit = %+v", hit)
		}
		if !strings.Contains(hit.Snippet, "<mark>evacuation</mark>") {
			t.Errorf("snippet %q lacks <mark>evacuation</mark>", hit.Snippet)
		}
		if hit.Score <= 0 || hit.Score != h.Assets[0].Score {
			t.Errorf("hit score %v, asset score %v", hit.Score, h.Assets[0].Score)
		}
		if h.Assets[0].Collection != "news" || h.Assets[0].MediaKind != glasshouse.KindVideo {
			t.Errorf("asset group = %+v", h.Assets[0])
		}

		// Both kinds when unscoped.
		h = mustSearch(t, x, search.Query{Tenant: T1, Text: "evacuation"})
		kinds := hitKinds(h)
		if !slices.Equal(kinds, []string{"speech", "text"}) {
			t.Errorf("evacuation: hit kinds %v, want speech and text", kinds)
		}
		// A combined condition shows the text hits, not the label.
		h = mustSearch(t, x, search.Query{Tenant: T1, Text: "label:person AND in:text evacuation"})
		if k := hitKinds(h); !slices.Equal(k, []string{"text"}) {
			t.Errorf("label:person AND in:text evacuation: hit kinds %v, want [text]", k)
		}
		// A label-only query shows where the label is seen.
		h = mustSearch(t, x, search.Query{Tenant: T1, Text: "label:dog"})
		if len(h.Assets) != 1 || len(h.Assets[0].Hits) != 2 {
			t.Fatalf("label:dog: %+v", h)
		}
		var starts []int64
		for _, hh := range h.Assets[0].Hits {
			starts = append(starts, hh.StartMS)
			if hh.Kind != glasshouse.SegLabel || hh.Snippet != "<mark>dog</mark>" {
				t.Errorf("label hit %+v", hh)
			}
		}
		slices.Sort(starts)
		if !slices.Equal(starts, []int64{1000, 6000}) {
			t.Errorf("label:dog hit starts %v, want [1000 6000]", starts)
		}
		// Phrase hits only where the phrase is.
		h = mustSearch(t, x, search.Query{Tenant: T1, Text: `"route north"`})
		if k := hitKinds(h); !slices.Equal(k, []string{"text"}) {
			t.Errorf(`"route north": hit kinds %v, want [text]`, k)
		}
		// HitsPerAsset caps the hits.
		h = mustSearch(t, x, search.Query{Tenant: T1, Text: "evacuation", HitsPerAsset: 1})
		if len(h.Assets) != 1 || len(h.Assets[0].Hits) != 1 {
			t.Errorf("HitsPerAsset 1: %+v", h)
		}
	})

	t.Run("SnippetEscaping", func(t *testing.T) {
		x := newIndex(t)
		s := seg(a1, glasshouse.SegText, "ocr", 0, 1000, `<script>alert("x")</script> fire & smoke`, 0.9)
		if err := x.Upsert(ctx, s); err != nil {
			t.Fatal(err)
		}
		h := mustSearch(t, x, search.Query{Tenant: T1, Text: "alert fire"})
		if len(h.Assets) != 1 {
			t.Fatalf("got %+v", h)
		}
		sn := h.Assets[0].Hits[0].Snippet
		if strings.Contains(sn, "<script") || !strings.Contains(sn, "&lt;script&gt;") {
			t.Errorf("snippet not escaped: %q", sn)
		}
		if !strings.Contains(sn, "<mark>fire</mark> &amp; smoke") || !strings.Contains(sn, "<mark>alert</mark>") {
			t.Errorf("snippet %q lacks marks", sn)
		}
		// Control characters in the text cannot forge marks.
		s2 := seg(a2, glasshouse.SegText, "ocr", 0, 1000, "flood \x02warning\x03 <now>", 0.9)
		if err := x.Upsert(ctx, s2); err != nil {
			t.Fatal(err)
		}
		h = mustSearch(t, x, search.Query{Tenant: T1, Text: "flood"})
		if len(h.Assets) != 1 {
			t.Fatalf("got %+v", h)
		}
		if sn := h.Assets[0].Hits[0].Snippet; strings.Count(sn, "<mark>") != 1 || !strings.Contains(sn, "&lt;now&gt;") {
			t.Errorf("snippet %q", sn)
		}
	})

	t.Run("TenantIsolation", func(t *testing.T) {
		x := loaded(t)
		assertSet(t, "t2 evacuation", searchIDs(t, x, search.Query{Tenant: T2, Text: "evacuation"}), ids("a5"))
		assertSet(t, "t2 city", searchIDs(t, x, search.Query{Tenant: T2, Text: "city"}), ids("a5"))
		assertSet(t, "t1 harbour", searchIDs(t, x, search.Query{Tenant: T1, Text: "harbour"}), nil)
		for _, text := range []string{"council", "in:speech", "type:video", "collection:news", "label:dog", "type:video -label:person", "city OR label:dog"} {
			got := searchIDs(t, x, search.Query{Tenant: T2, Text: text})
			for _, id := range got {
				if id != "a5" {
					t.Errorf("tenant t2 query %q found %s of tenant t1", text, id)
				}
			}
			if got := searchIDs(t, x, search.Query{Tenant: "t3", Text: text}); len(got) != 0 {
				t.Errorf("tenant t3 query %q found %v", text, got)
			}
		}
		if _, err := x.Search(ctx, search.Query{Text: "city"}); !errors.Is(err, glasshouse.ErrInvalid) {
			t.Errorf("query without tenant: err = %v, want ErrInvalid", err)
		}
		// Another tenant cannot replace t1's asset.
		err := x.ReplaceAsset(ctx, T2, "a2", "speech", []glasshouse.Segment{{Kind: glasshouse.SegSpeech, Text: "hijacked", Collection: "news"}})
		if err == nil {
			t.Errorf("ReplaceAsset of t1's asset by t2 succeeded")
		}
		assertSet(t, "t1 council after t2 replace", searchIDs(t, x, search.Query{Tenant: T1, Text: "council"}), ids("a2"))
		assertSet(t, "t2 hijacked", searchIDs(t, x, search.Query{Tenant: T2, Text: "hijacked"}), nil)
	})

	t.Run("Collections", func(t *testing.T) {
		x := loaded(t)
		q := func(cols []string, text string) []glasshouse.AssetID {
			return searchIDs(t, x, search.Query{Tenant: T1, Collections: cols, Text: text})
		}
		assertSet(t, "news: fire", q([]string{"news"}, "fire"), nil)
		assertSet(t, "archive: fire", q([]string{"archive"}, "fire"), ids("a4"))
		assertSet(t, "news: city OR forward", q([]string{"news"}, "city OR forward"), ids("a2"))
		assertSet(t, "news,archive: city OR forward", q([]string{"news", "archive"}, "city OR forward"), ids("a2", "a3"))
		assertSet(t, "none: city", q([]string{}, "city"), nil)
		assertSet(t, "news: collection:archive fire", q([]string{"news"}, "collection:archive fire"), nil)
		assertSet(t, "news: -label:dog type:video", q([]string{"news"}, "type:video -label:dog"), ids("a1"))
		assertSet(t, "archive: label:person", q([]string{"archive"}, "label:person"), ids("a4"))
		assertSet(t, "news: council OR type:audio", q([]string{"news"}, "council OR type:audio"), ids("a2"))

		if err := x.SetCollection(ctx, T1, "a4", "news"); err != nil {
			t.Fatal(err)
		}
		assertSet(t, "news: fire after move", q([]string{"news"}, "fire"), ids("a4"))
		assertSet(t, "archive: fire after move", q([]string{"archive"}, "fire"), nil)
		// Moving needs the right tenant.
		if err := x.SetCollection(ctx, T2, "a4", "archive"); err != nil && !errors.Is(err, glasshouse.ErrNotExist) && !errors.Is(err, glasshouse.ErrPermission) {
			t.Fatal(err)
		}
		assertSet(t, "news: fire after foreign move", q([]string{"news"}, "fire"), ids("a4"))
	})

	t.Run("Delete", func(t *testing.T) {
		x := loaded(t)
		if err := x.Delete(ctx, "a1", "nonexistent"); err != nil {
			t.Fatal(err)
		}
		for _, text := range []string{"evacuation", "label:person", "briefing", "in:speech"} {
			for _, id := range searchIDs(t, x, search.Query{Tenant: T1, Text: text}) {
				if id == "a1" {
					t.Errorf("%q found deleted asset a1", text)
				}
			}
		}
		assertSet(t, "t2 evacuation after delete", searchIDs(t, x, search.Query{Tenant: T2, Text: "evacuation"}), ids("a5"))
		assertSet(t, "label:person after delete", searchIDs(t, x, search.Query{Tenant: T1, Text: "label:person"}), ids("a4"))
		if err := x.Delete(ctx); err != nil {
			t.Errorf("Delete(): %v", err)
		}
	})

	t.Run("Replace", func(t *testing.T) {
		x := loaded(t)
		err := x.ReplaceAsset(ctx, T1, "a2", "speech", []glasshouse.Segment{
			seg(a2, glasshouse.SegSpeech, "", 0, 2000, "library opening ceremony", 0.8),
		})
		if err != nil {
			t.Fatal(err)
		}
		assertSet(t, "budget after replace", searchIDs(t, x, search.Query{Tenant: T1, Text: "budget"}), nil)
		assertSet(t, "library after replace", searchIDs(t, x, search.Query{Tenant: T1, Text: "library"}), ids("a2"))
		assertSet(t, "other sources kept", searchIDs(t, x, search.Query{Tenant: T1, Text: "label:dog council"}), ids("a2"))
		h := mustSearch(t, x, search.Query{Tenant: T1, Text: "library"})
		if hit := h.Assets[0].Hits[0]; hit.Source != "speech" || hit.EndMS != 2000 {
			t.Errorf("replaced hit %+v", hit)
		}
		// Replacing with nothing removes the source.
		if err := x.ReplaceAsset(ctx, T1, "a2", "labels", nil); err != nil {
			t.Fatal(err)
		}
		assertSet(t, "label:dog after empty replace", searchIDs(t, x, search.Query{Tenant: T1, Text: "label:dog"}), nil)
		// Segments of another asset are refused.
		err = x.ReplaceAsset(ctx, T1, "a2", "speech", []glasshouse.Segment{seg(a3, glasshouse.SegSpeech, "speech", 0, 1, "x", 1)})
		if !errors.Is(err, glasshouse.ErrInvalid) {
			t.Errorf("ReplaceAsset with a foreign segment: err = %v, want ErrInvalid", err)
		}
	})

	t.Run("Upsert", func(t *testing.T) {
		x := loaded(t)
		// The same segment again is not a duplicate.
		if err := x.Upsert(ctx, Fixture()...); err != nil {
			t.Fatal(err)
		}
		h := mustSearch(t, x, search.Query{Tenant: T1, Text: "in:speech evacuation", HitsPerAsset: 10})
		if len(h.Assets) != 1 || len(h.Assets[0].Hits) != 1 {
			t.Errorf("after second Upsert: %+v", h)
		}
		// A changed confidence updates the segment.
		s := Fixture()[0]
		s.Confidence = 0.1
		if err := x.Upsert(ctx, s); err != nil {
			t.Fatal(err)
		}
		h = mustSearch(t, x, search.Query{Tenant: T1, Text: "in:speech evacuation", HitsPerAsset: 10})
		if len(h.Assets) != 1 || len(h.Assets[0].Hits) != 1 || h.Assets[0].Hits[0].Confidence != 0.1 {
			t.Errorf("after confidence update: %+v", h)
		}
		for _, bad := range []glasshouse.Segment{
			{Asset: "x", Kind: glasshouse.SegSpeech, Text: "no tenant"},
			{Tenant: T1, Kind: glasshouse.SegSpeech, Text: "no asset"},
			{Tenant: T1, Asset: "x", Kind: "smell", Text: "bad kind"},
			{Tenant: T1, Asset: "x", Kind: glasshouse.SegSpeech, Text: "backwards", StartMS: 10, EndMS: 5},
			{Tenant: T1, Asset: "x", Kind: glasshouse.SegSpeech, Text: "too sure", Confidence: 1.5},
		} {
			if err := x.Upsert(ctx, bad); !errors.Is(err, glasshouse.ErrInvalid) {
				t.Errorf("Upsert(%q): err = %v, want ErrInvalid", bad.Text, err)
			}
		}
		// A batch with one bad segment stores nothing.
		good := seg(a3, glasshouse.SegSpeech, "speech", 9000, 9500, "walrus", 0.9)
		if err := x.Upsert(ctx, good, glasshouse.Segment{Text: "bad"}); err == nil {
			t.Errorf("Upsert with a bad segment succeeded")
		}
		assertSet(t, "walrus", searchIDs(t, x, search.Query{Tenant: T1, Text: "walrus"}), nil)
	})

	t.Run("RankPhraseFirst", func(t *testing.T) {
		x := newIndex(t)
		b1 := asset{"b1", T1, "c", glasshouse.KindAudio, day("2025-01-01")}
		b2 := asset{"b2", T1, "c", glasshouse.KindAudio, day("2025-01-01")}
		b3 := asset{"b3", T1, "c", glasshouse.KindAudio, day("2025-01-01")}
		filler := asset{"b0", T1, "c", glasshouse.KindAudio, day("2025-01-01")}
		segs := []glasshouse.Segment{
			seg(b2, glasshouse.SegSpeech, "speech", 0, 1, "the car was red and parked by the old house", 0.9),
			seg(b1, glasshouse.SegSpeech, "speech", 0, 1, "the red car was parked by the old house and", 0.9),
			seg(b3, glasshouse.SegSpeech, "speech", 0, 1, "a car was parked by the old house", 0.9),
		}
		for i := range 8 { // so that red and car are not in most segments
			segs = append(segs, seg(filler, glasshouse.SegSpeech, "speech", int64(i), int64(i), fmt.Sprintf("unrelated words number %d here", i), 0.9))
		}
		if err := x.Upsert(ctx, segs...); err != nil {
			t.Fatal(err)
		}
		got := orderedIDs(mustSearch(t, x, search.Query{Tenant: T1, Text: "red car"}))
		if !slices.Equal(got, ids("b1", "b2")) {
			t.Errorf("red car: order %v, want [b1 b2] (phrase first)", got)
		}
		got = orderedIDs(mustSearch(t, x, search.Query{Tenant: T1, Text: "car red"}))
		if !slices.Equal(got, ids("b2", "b1")) {
			t.Errorf("car red: order %v, want [b2 b1] (phrase in query order first)", got)
		}
	})

	t.Run("RankConfidence", func(t *testing.T) {
		x := newIndex(t)
		var segs []glasshouse.Segment
		confs := map[glasshouse.AssetID]float64{"c1": 0.3, "c2": 0.95, "c3": 0.6, "c4": 0.1}
		for id, c := range confs {
			a := asset{id, T1, "c", glasshouse.KindVideo, day("2025-01-01")}
			segs = append(segs, seg(a, glasshouse.SegText, "ocr", 0, 1, "harbour crane", c))
		}
		for i := range 6 {
			a := asset{glasshouse.AssetID(fmt.Sprintf("f%d", i)), T1, "c", glasshouse.KindVideo, day("2025-01-01")}
			segs = append(segs, seg(a, glasshouse.SegText, "ocr", 0, 1, "something else entirely", 0.5))
		}
		if err := x.Upsert(ctx, segs...); err != nil {
			t.Fatal(err)
		}
		for _, text := range []string{"harbour", "harbour crane", `"harbour crane"`, "harb*"} {
			got := orderedIDs(mustSearch(t, x, search.Query{Tenant: T1, Text: text}))
			if !slices.Equal(got, ids("c2", "c3", "c1", "c4")) {
				t.Errorf("%s: order %v, want [c2 c3 c1 c4] (by confidence)", text, got)
			}
		}
	})

	t.Run("Pagination", func(t *testing.T) {
		x := newIndex(t)
		var segs []glasshouse.Segment
		const n = 53
		for i := range n {
			a := asset{glasshouse.AssetID(fmt.Sprintf("p%03d", i)), T1, []string{"x", "y"}[i%2], glasshouse.KindVideo, day("2025-01-01")}
			// Some ties in confidence and text, to test the tie break.
			text := "zebra crossing"
			if i%3 == 0 {
				text = "a zebra and a crossing guard"
			}
			segs = append(segs, seg(a, glasshouse.SegSpeech, "speech", 0, 1, text, float64(i%7)/7))
			segs = append(segs, seg(a, glasshouse.SegText, "ocr", 0, 1, "zebra", 0.5))
		}
		for i := range 20 {
			a := asset{glasshouse.AssetID(fmt.Sprintf("q%03d", i)), T1, "x", glasshouse.KindVideo, day("2025-01-01")}
			segs = append(segs, seg(a, glasshouse.SegSpeech, "speech", 0, 1, "giraffe", 0.5))
		}
		if err := x.Upsert(ctx, segs...); err != nil {
			t.Fatal(err)
		}
		for _, limit := range []int{1, 7, 10, 53, 100} {
			for _, text := range []string{"zebra", "zebra crossing", "zebra -label:x", "in:speech zebra OR in:text zebra"} {
				q := search.Query{Tenant: T1, Text: text, Limit: limit}
				seen := map[glasshouse.AssetID]bool{}
				var all []glasshouse.AssetID
				lastScore := 1e308
				for page := 0; ; page++ {
					if page > n+1 {
						t.Fatalf("%q limit %d: too many pages", text, limit)
					}
					h := mustSearch(t, x, q)
					if h.Total != n {
						t.Errorf("%q limit %d page %d: Total %d, want %d", text, limit, page, h.Total, n)
					}
					if len(h.Assets) > limit {
						t.Errorf("%q: page of %d > limit %d", text, len(h.Assets), limit)
					}
					for _, g := range h.Assets {
						if seen[g.Asset] {
							t.Errorf("%q limit %d: %s on two pages", text, limit, g.Asset)
						}
						seen[g.Asset] = true
						all = append(all, g.Asset)
						if g.Score > lastScore {
							t.Errorf("%q limit %d: score %v after %v", text, limit, g.Score, lastScore)
						}
						lastScore = g.Score
					}
					if h.Next == "" {
						break
					}
					if len(h.Assets) != limit {
						t.Errorf("%q: short page %d with a next cursor", text, len(h.Assets))
					}
					q.Cursor = h.Next
				}
				if len(all) != n {
					t.Errorf("%q limit %d: %d assets over all pages, want %d", text, limit, len(all), n)
				}
			}
		}
		// A cursor is bound to its query and tenant.
		h := mustSearch(t, x, search.Query{Tenant: T1, Text: "zebra", Limit: 5})
		for _, q := range []search.Query{
			{Tenant: T1, Text: "giraffe", Cursor: h.Next},
			{Tenant: T2, Text: "zebra", Cursor: h.Next},
			{Tenant: T1, Text: "zebra", Collections: []string{"x"}, Cursor: h.Next},
			{Tenant: T1, Text: "zebra", Cursor: "garbage!"},
			{Tenant: T1, Text: "zebra", Cursor: h.Next[:len(h.Next)-3]},
		} {
			if _, err := x.Search(ctx, q); !errors.Is(err, glasshouse.ErrInvalid) {
				t.Errorf("cursor misuse %+v: err = %v, want ErrInvalid", q, err)
			}
		}
	})

	t.Run("ParseErrors", func(t *testing.T) {
		x := loaded(t)
		for _, c := range []struct {
			text string
			pos  int
			msg  string
		}{
			{`evacuation "route north`, 11, "unterminated quote"},
			{`lable:dog`, 0, `did you mean label?`},
			{`fire after:2025-13-01`, 11, `invalid date "2025-13-01" for after:`},
			{`fire OR`, 5, "dangling OR"},
			{`(fire`, 0, `missing ")"`},
			{`fire)`, 4, `unbalanced ")"`},
			{`in:speach fire`, 3, "did you mean speech?"},
			{`type:movie`, 5, "unknown media type"},
			{`-fire`, 0, "nothing to exclude from"},
			{`   `, 0, "empty query"},
			{`label: dog`, 6, "missing value for label:"},
		} {
			_, err := x.Search(ctx, search.Query{Tenant: T1, Text: c.text})
			if !errors.Is(err, glasshouse.ErrInvalid) {
				t.Errorf("%q: err = %v, want ErrInvalid", c.text, err)
				continue
			}
			var pe *search.ParseError
			if !errors.As(err, &pe) {
				t.Errorf("%q: err %v is not a *search.ParseError", c.text, err)
				continue
			}
			if pe.Pos != c.pos || !strings.Contains(pe.Error(), c.msg) {
				t.Errorf("%q: error %q (pos %d), want pos %d and %q", c.text, pe.Error(), pe.Pos, c.pos, c.msg)
			}
		}
	})

	t.Run("Hostile", func(t *testing.T) {
		x := loaded(t)
		// FTS5 syntax, SQL and odd bytes are text, never syntax: each query
		// either runs or is a parse error.
		for _, text := range []string{
			`NEAR(evacuation route)`, `evacuation:`, `text : evacuation`, `^evacuation`, `evacuation + route`,
			`"evacuation" AND "route"`, `'; DROP TABLE search_seg; --`, `") OR 1=1 --`, `*`, `**`, `evac**`,
			`{evacuation}`, `a""b`, "\x00evacuation", "evacu\xffation", `label:"`, `collection:'x'`,
			`((((((((evacuation))))))))`, `- - -`, `AND`, `NOT NOT evacuation`, `evacuation -`, `"" evacuation`,
		} {
			_, err := x.Search(ctx, search.Query{Tenant: T1, Text: text})
			var pe *search.ParseError
			if err != nil && !errors.As(err, &pe) {
				t.Errorf("%q: err = %v, want success or a ParseError", text, err)
			}
		}
		assertSet(t, "NEAR(evacuation route)", searchIDs(t, x, search.Query{Tenant: T1, Text: "NEAR(evacuation route)"}), nil)
		assertSet(t, "evacuation + route", searchIDs(t, x, search.Query{Tenant: T1, Text: "evacuation + route"}), ids("a1"))
		assertSet(t, "NOT NOT evacuation", searchIDs(t, x, search.Query{Tenant: T1, Text: "NOT NOT evacuation"}), ids("a1"))
		// The tables survived.
		assertSet(t, "evacuation after hostile", searchIDs(t, x, search.Query{Tenant: T1, Text: "evacuation"}), ids("a1"))
	})

	t.Run("Empty", func(t *testing.T) {
		x := newIndex(t)
		h := mustSearch(t, x, search.Query{Tenant: T1, Text: "anything"})
		if len(h.Assets) != 0 || h.Total != 0 || h.Next != "" {
			t.Errorf("empty index: %+v", h)
		}
		if h.Assets == nil {
			t.Errorf("Assets is nil, want an empty slice (JSON [])")
		}
	})

	t.Run("Bound", func(t *testing.T) {
		x := newIndex(t)
		b, ok := x.(interface{ SetBound(n int) })
		if !ok {
			t.Skip("the index ranks every match (no candidate bound)")
		}
		testBound(t, x, b.SetBound)
	})
}

// testBound: with a candidate bound below the number of matches, a search
// returns a lower-bound total (TotalEstimated), only assets that the exact
// search finds, and the asset of the best-quality segment (highest
// confidence, shortest) among them; with a bound above the number of
// matches, exactly the unbounded result, in the same order, across pages.
func testBound(t *testing.T, x search.Index, setBound func(int)) {
	ctx := context.Background()
	var segs []glasshouse.Segment
	for i := range 60 {
		a := asset{glasshouse.AssetID(fmt.Sprintf("b%02d", i)), T1, "news", glasshouse.KindVideo, day("2025-06-01")}
		for j := range 3 {
			conf := 0.3 + 0.01*float64((i*7+j*3)%40)
			text := "harbour " + strings.Repeat("filler words here ", 1+(i+j)%4)
			if i == 41 && j == 1 {
				conf, text = 1.0, "harbour"
			}
			segs = append(segs, seg(a, glasshouse.SegSpeech, "speech", int64(j)*10000, int64(j)*10000+5000, text, conf))
		}
		// Other tenant, same word: never a candidate of t1.
		o := asset{glasshouse.AssetID(fmt.Sprintf("o%02d", i)), T2, "news", glasshouse.KindVideo, day("2025-06-01")}
		segs = append(segs, seg(o, glasshouse.SegSpeech, "speech", 0, 5000, "harbour", 1.0))
	}
	if err := x.Upsert(ctx, segs...); err != nil {
		t.Fatal(err)
	}
	all := func(q search.Query) (got []glasshouse.AssetID, total int, est bool) {
		for {
			h := mustSearch(t, x, q)
			got = append(got, orderedIDs(h)...)
			total, est = h.Total, h.TotalEstimated
			if h.Next == "" {
				return got, total, est
			}
			q.Cursor = h.Next
		}
	}
	for _, text := range []string{"harbour", "harbour -label:nothing", "in:speech harbour"} {
		q := search.Query{Tenant: T1, Text: text, Limit: 7}
		setBound(100000)
		exact, total, est := all(q)
		if est || total != 60 || len(exact) != 60 {
			t.Fatalf("%q unbounded: total %d (estimated %v), %d assets; want 60 exact", text, total, est, len(exact))
		}
		setBound(10)
		got, total, est := all(q)
		if !est || total != len(got) || total == 0 || total > 10 {
			t.Errorf("%q bound 10: total %d (estimated %v), %d assets", text, total, est, len(got))
		}
		for _, a := range got {
			if !slices.Contains(exact, a) || strings.HasPrefix(string(a), "o") {
				t.Errorf("%q bound 10: asset %s is not in the exact result", text, a)
			}
		}
		if !slices.Contains(got, "b41") {
			t.Errorf("%q bound 10: %v lacks b41, which holds the best-quality segment", text, got)
		}
		setBound(181)
		got, total, est = all(q)
		if est || total != 60 || !slices.Equal(got, exact) {
			t.Errorf("%q bound above the matches: %v (total %d, estimated %v), want %v", text, got, total, est, exact)
		}
	}
}

func ids(s ...string) []glasshouse.AssetID {
	out := make([]glasshouse.AssetID, len(s))
	for i, x := range s {
		out[i] = glasshouse.AssetID(x)
	}
	return out
}

func mustSearch(t *testing.T, x search.Index, q search.Query) *search.Hits {
	t.Helper()
	h, err := x.Search(context.Background(), q)
	if err != nil {
		t.Fatalf("Search(%q): %v", q.Text, err)
	}
	return h
}

// searchIDs returns every matching asset over all pages.
func searchIDs(t *testing.T, x search.Index, q search.Query) []glasshouse.AssetID {
	t.Helper()
	var out []glasshouse.AssetID
	for range 100 {
		h := mustSearch(t, x, q)
		out = append(out, orderedIDs(h)...)
		if h.Next == "" {
			return out
		}
		q.Cursor = h.Next
	}
	t.Fatalf("%q: too many pages", q.Text)
	return nil
}

func orderedIDs(h *search.Hits) []glasshouse.AssetID {
	var out []glasshouse.AssetID
	for _, g := range h.Assets {
		out = append(out, g.Asset)
	}
	return out
}

func hitKinds(h *search.Hits) []string {
	var ks []string
	for _, g := range h.Assets {
		for _, hit := range g.Hits {
			if !slices.Contains(ks, hit.Kind) {
				ks = append(ks, hit.Kind)
			}
		}
	}
	slices.Sort(ks)
	return ks
}

func assertSet(t *testing.T, what string, got, want []glasshouse.AssetID) {
	t.Helper()
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("%s: got assets %v, want %v", what, g, w)
	}
}
