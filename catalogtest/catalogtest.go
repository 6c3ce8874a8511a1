// Package catalogtest is the conformance suite for glasshouse.Catalog
// backends. If the catalog also implements glasshouse.AuditLog or
// glasshouse.Queue, the suite checks that mutations append their audit
// events and enqueue their jobs in the same transaction.
package catalogtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
)

// Run runs the suite; newCatalog must return an empty catalog for each call.
func Run(t *testing.T, newCatalog func(t *testing.T) glasshouse.Catalog) {
	tests := []struct {
		name string
		fn   func(t *testing.T, c glasshouse.Catalog)
	}{
		{"CreateGet", testCreateGet},
		{"CreateDefaults", testCreateDefaults},
		{"CreateDuplicate", testCreateDuplicate},
		{"CreateInvalid", testCreateInvalid},
		{"CreateAtomic", testCreateAtomic},
		{"TenantIsolation", testTenantIsolation},
		{"FindAssetsByHash", testFindByHash},
		{"ListPagination", testListPagination},
		{"ListFilters", testListFilters},
		{"ListDefaultLimit", testListDefaultLimit},
		{"ListSorted", testListSorted},
		{"Update", testUpdate},
		{"LegalHold", testLegalHold},
		{"DeleteOrphans", testDeleteOrphans},
		{"PutResultReplaces", testPutResultReplaces},
		{"RecordRun", testRecordRun},
		{"AuditEvents", testAuditEvents},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newCatalog(t)) })
	}
}

// Ref returns a valid, distinct blob ref for s.
func Ref(s string) glasshouse.Ref {
	sum := sha256.Sum256([]byte(s))
	return glasshouse.RefFromSum(sum[:])
}

// NewID returns a fresh asset id.
func NewID() glasshouse.AssetID {
	var b [16]byte
	rand.Read(b[:])
	return glasshouse.AssetID(hex.EncodeToString(b[:]))
}

// NewAsset returns an asset ready for CreateAsset.
func NewAsset(tenant glasshouse.TenantID, name string) *glasshouse.Asset {
	return &glasshouse.Asset{
		ID: NewID(), Tenant: tenant, Collection: "inbox", Name: name, MediaType: "video/mp4",
		Kind: glasshouse.KindVideo, Size: 1234, Hash: Ref("content of " + name),
	}
}

func ev(tenant glasshouse.TenantID, action string, target glasshouse.AssetID) glasshouse.AuditEvent {
	return glasshouse.NewEvent(glasshouse.Actor{Tenant: tenant, User: "tester"}, action, string(target), nil)
}

func create(t *testing.T, c glasshouse.Catalog, a *glasshouse.Asset) *glasshouse.Asset {
	t.Helper()
	if err := c.CreateAsset(context.Background(), a, nil, ev(a.Tenant, "upload", a.ID)); err != nil {
		t.Fatalf("CreateAsset %s: %v", a.Name, err)
	}
	return a
}

func mustKind(t *testing.T, what string, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s: want %v, got %v", what, kind, err)
	}
}

func jsonEq(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func testCreateGet(t *testing.T, c glasshouse.Catalog) {
	ctx := context.Background()
	ct := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	a := NewAsset("default", "interview.mp4")
	a.Created = time.Date(2025, 1, 2, 3, 4, 5, 678901234, time.FixedZone("X", 3600))
	a.Thumb, a.Poster, a.Note = Ref("thumb"), Ref("poster"), "first take"
	a.Probe = &glasshouse.ProbeInfo{Format: "mov,mp4", DurationMS: 61234, BitRate: 900000, Width: 1920, Height: 1080, FrameRate: 29.97,
		CreationTime: &ct, Streams: []glasshouse.Stream{
			{Index: 0, Type: "video", Codec: "h264", Width: 1920, Height: 1080, FrameRate: 29.97, DurationMS: 61234},
			{Index: 1, Type: "audio", Codec: "aac", SampleRate: 48000, Channels: 2, Language: "eng"},
		}}
	create(t, c, a)
	got, err := c.GetAsset(ctx, "default", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Created.Equal(a.Created) {
		t.Fatalf("Created %v, want %v", got.Created, a.Created)
	}
	if len(got.Runs) != 0 {
		t.Fatalf("new asset has runs: %+v", got.Runs)
	}
	want := *a
	want.Created, got.Created = time.Time{}, time.Time{}
	jsonEq(t, "stored asset", got, &want)
	if !got.Probe.CreationTime.Equal(ct) {
		t.Fatalf("probe creation time %v", got.Probe.CreationTime)
	}
	_, err = c.GetAsset(ctx, "default", NewID())
	mustKind(t, "GetAsset of unknown id", err, glasshouse.ErrNotExist)
}

func testCreateDefaults(t *testing.T, c glasshouse.Catalog) {
	before := time.Now().Add(-time.Second)
	a := create(t, c, NewAsset("default", "a.jpg"))
	got, err := c.GetAsset(context.Background(), "default", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Created.Before(before) || got.Created.After(time.Now().Add(time.Second)) {
		t.Fatalf("zero Created should become now, got %v", got.Created)
	}
	if got.Probe != nil || got.LegalHold || got.Thumb != "" {
		t.Fatalf("unexpected fields: %+v", got)
	}
}

func testCreateDuplicate(t *testing.T, c glasshouse.Catalog) {
	a := create(t, c, NewAsset("default", "a.jpg"))
	b := NewAsset("default", "b.jpg")
	b.ID = a.ID
	err := c.CreateAsset(context.Background(), b, nil, ev("default", "upload", b.ID))
	mustKind(t, "CreateAsset with a taken id", err, glasshouse.ErrExist)
	got, err := c.GetAsset(context.Background(), "default", a.ID)
	if err != nil || got.Name != "a.jpg" {
		t.Fatalf("the first asset changed: %+v %v", got, err)
	}
}

func testCreateInvalid(t *testing.T, c glasshouse.Catalog) {
	ctx := context.Background()
	a := NewAsset("default", "a.jpg")
	a.ID = ""
	mustKind(t, "asset without id", c.CreateAsset(ctx, a, nil, ev("default", "upload", "")), glasshouse.ErrInvalid)
	a = NewAsset("default", "a.jpg")
	a.Hash = "sha256-nothex"
	mustKind(t, "asset with malformed hash", c.CreateAsset(ctx, a, nil, ev("default", "upload", a.ID)), glasshouse.ErrInvalid)
	a = NewAsset("", "a.jpg")
	mustKind(t, "asset without tenant", c.CreateAsset(ctx, a, nil, ev("default", "upload", a.ID)), glasshouse.ErrInvalid)
}

// testCreateAtomic: a CreateAsset whose audit event is rejected writes
// nothing, neither the asset nor its jobs.
func testCreateAtomic(t *testing.T, c glasshouse.Catalog) {
	ctx := context.Background()
	a := NewAsset("default", "a.jpg")
	jobs := []glasshouse.Job{{Asset: a.ID, Tenant: a.Tenant, Kind: "ocr", Version: "1"}}
	err := c.CreateAsset(ctx, a, jobs, glasshouse.AuditEvent{Tenant: "default"}) // no action: invalid
	mustKind(t, "CreateAsset with an invalid audit event", err, glasshouse.ErrInvalid)
	_, err = c.GetAsset(ctx, "default", a.ID)
	mustKind(t, "asset of a failed CreateAsset", err, glasshouse.ErrNotExist)
	if q, ok := c.(glasshouse.Queue); ok {
		js, err := q.Jobs(ctx, "default", "")
		if err != nil || len(js) != 0 {
			t.Fatalf("jobs left by a failed CreateAsset: %+v %v", js, err)
		}
	}
	if used, err := c.BlobInUse(ctx, a.Hash); err != nil || used {
		t.Fatalf("hash of a failed CreateAsset in use: %v %v", used, err)
	}
}

func testTenantIsolation(t *testing.T, c glasshouse.Catalog) {
	ctx := context.Background()
	a := create(t, c, NewAsset("default", "secret.mp4"))
	const other = glasshouse.TenantID("acme")
	_, err := c.GetAsset(ctx, other, a.ID)
	mustKind(t, "GetAsset by another tenant", err, glasshouse.ErrNotExist)
	b := *a
	b.Tenant, b.Note = other, "hijacked"
	mustKind(t, "UpdateAsset by another tenant", c.UpdateAsset(ctx, &b), glasshouse.ErrNotExist)
	_, err = c.DeleteAsset(ctx, other, a.ID, ev(other, "delete", a.ID))
	mustKind(t, "DeleteAsset by another tenant", err, glasshouse.ErrNotExist)
	_, err = c.Results(ctx, other, a.ID)
	mustKind(t, "Results by another tenant", err, glasshouse.ErrNotExist)
	err = c.PutResult(ctx, &glasshouse.Result{Asset: a.ID, Tenant: other, Run: glasshouse.AnalyzerRun{Name: "ocr", Version: "1"}}, ev(other, "analyze", a.ID))
	mustKind(t, "PutResult by another tenant", err, glasshouse.ErrNotExist)
	err = c.RecordRun(ctx, other, a.ID, glasshouse.AnalyzerRun{Name: "ocr", Version: "1", State: glasshouse.JobFailed})
	mustKind(t, "RecordRun by another tenant", err, glasshouse.ErrNotExist)
	page, err := c.ListAssets(ctx, glasshouse.AssetFilter{Tenant: other})
	if err != nil || page.Total != 0 || len(page.Assets) != 0 {
		t.Fatalf("ListAssets of another tenant: %+v %v", page, err)
	}
	found, err := c.FindAssetsByHash(ctx, other, a.Hash)
	if err != nil || len(found) != 0 {
		t.Fatalf("FindAssetsByHash of another tenant: %+v %v", found, err)
	}
	got, err := c.GetAsset(ctx, "default", a.ID)
	if err != nil || got.Note != "" || len(got.Runs) != 0 {
		t.Fatalf("asset changed by another tenant: %+v %v", got, err)
	}
}

func testFindByHash(t *testing.T, c glasshouse.Catalog) {
	ctx := context.Background()
	a1 := NewAsset("default", "a.jpg")
	a2 := NewAsset("default", "copy of a.jpg")
	a2.Hash = a1.Hash
	a2.Created = time.Now().Add(time.Minute)
	a3 := NewAsset("acme", "a.jpg")
	a3.Hash = a1.Hash
	for _, a := range []*glasshouse.Asset{a1, a2, a3, NewAsset("default", "other.jpg")} {
		create(t, c, a)
	}
	found, err := c.FindAssetsByHash(ctx, "default", a1.Hash)
	if err != nil {
		t.Fatal(err)
	}
	var ids []glasshouse.AssetID
	for _, a := range found {
		ids = append(ids, a.ID)
		if a.Hash != a1.Hash || a.Tenant != "default" {
			t.Errorf("found %+v", a)
		}
	}
	slices.Sort(ids)
	want := []glasshouse.AssetID{a1.ID, a2.ID}
	slices.Sort(want)
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("found %v, want %v", ids, want)
	}
	found, err = c.FindAssetsByHash(ctx, "default", Ref("nothing"))
	if err != nil || found == nil || len(found) != 0 {
		t.Fatalf("unknown hash: want an empty slice, got %#v %v", found, err)
	}
}

// listAll pages through f and returns the ids in order.
func listAll(t *testing.T, c glasshouse.Catalog, f glasshouse.AssetFilter, wantTotal int) []glasshouse.AssetID {
	t.Helper()
	var ids []glasshouse.AssetID
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("pagination does not end")
		}
		page, err := c.ListAssets(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != wantTotal {
			t.Fatalf("Total %d, want %d", page.Total, wantTotal)
		}
		if f.Limit > 0 && len(page.Assets) > f.Limit {
			t.Fatalf("page of %d assets, limit %d", len(page.Assets), f.Limit)
		}
		for _, a := range page.Assets {
			ids = append(ids, a.ID)
		}
		if page.Next == "" {
			return ids
		}
		if len(page.Assets) == 0 {
			t.Fatal("empty page with a next cursor")
		}
		f.Cursor = page.Next
	}
}

func testListPagination(t *testing.T, c glasshouse.Catalog) {
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	var all []*glasshouse.Asset
	// Eight assets; four share one creation time, to test the id tiebreak.
	offsets := []int{0, 5, 5, 5, 5, 9, 12, 3}
	for i, off := range offsets {
		a := NewAsset("default", fmt.Sprintf("f%d.jpg", i))
		a.Created = base.Add(time.Duration(off) * time.Second)
		all = append(all, create(t, c, a))
	}
	create(t, c, NewAsset("acme", "noise.jpg"))
	slices.SortFunc(all, func(a, b *glasshouse.Asset) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(string(b.ID), string(a.ID))
	})
	var want []glasshouse.AssetID
	for _, a := range all {
		want = append(want, a.ID)
	}
	for _, limit := range []int{1, 3, 8, 100} {
		got := listAll(t, c, glasshouse.AssetFilter{Tenant: "default", Limit: limit}, 8)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("limit %d: order\n got %v\nwant %v", limit, got, want)
		}
	}
	// A page ends exactly at the last asset: no further empty page.
	page, err := c.ListAssets(context.Background(), glasshouse.AssetFilter{Tenant: "default", Limit: 8})
	if err != nil || len(page.Assets) != 8 || page.Next != "" {
		t.Fatalf("full page: %d assets, next %q, %v", len(page.Assets), page.Next, err)
	}
	_, err = c.ListAssets(context.Background(), glasshouse.AssetFilter{Tenant: "default", Cursor: "!!not a cursor!!"})
	mustKind(t, "ListAssets with a bad cursor", err, glasshouse.ErrInvalid)
}

func testListFilters(t *testing.T, c glasshouse.Catalog) {
	mk := func(coll string, kind glasshouse.MediaKind) glasshouse.AssetID {
		a := NewAsset("default", coll+string(kind))
		a.Collection, a.Kind = coll, kind
		return create(t, c, a).ID
	}
	mk("news", glasshouse.KindVideo)
	mk("news", glasshouse.KindAudio)
	mk("news", glasshouse.KindAudio)
	mk("court", glasshouse.KindImage)
	mk("court", glasshouse.KindAudio)
	cases := []struct {
		coll  string
		kind  glasshouse.MediaKind
		total int
	}{{"", "", 5}, {"news", "", 3}, {"", glasshouse.KindAudio, 3}, {"court", glasshouse.KindAudio, 1}, {"nope", "", 0}}
	for _, cs := range cases {
		ids := listAll(t, c, glasshouse.AssetFilter{Tenant: "default", Collection: cs.coll, Kind: cs.kind, Limit: 2}, cs.total)
		if len(ids) != cs.total {
			t.Fatalf("collection %q kind %q: %d assets, want %d", cs.coll, cs.kind, len(ids), cs.total)
		}
		for _, id := range ids {
			a, err := c.GetAsset(context.Background(), "default", id)
			if err != nil {
				t.Fatal(err)
			}
			if (cs.coll != "" && a.Collection != cs.coll) || (cs.kind != "" && a.Kind != cs.kind) {
				t.Fatalf("filter %q/%q listed %+v", cs.coll, cs.kind, a)
			}
		}
	}
}

func testListDefaultLimit(t *testing.T, c glasshouse.Catalog) {
	for i := range 51 {
		create(t, c, NewAsset("default", fmt.Sprint(i)))
	}
	page, err := c.ListAssets(context.Background(), glasshouse.AssetFilter{Tenant: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Assets) != 50 || page.Next == "" || page.Total != 51 {
		t.Fatalf("default page: %d assets, next %q, total %d; want 50, a cursor, 51", len(page.Assets), page.Next, page.Total)
	}
}

func testUpdate(t *testing.T, c glasshouse.Catalog) {
	ctx := context.Background()
	a := create(t, c, NewAsset("default", "a.mp4"))
	u := *a
	u.Note, u.Collection, u.Thumb, u.Poster, u.LegalHold = "checked", "archive", Ref("t2"), Ref("p2"), true
	u.Probe = &glasshouse.ProbeInfo{Format: "mp4", DurationMS: 5000, Streams: []glasshouse.Stream{{Index: 0, Type: "video", Codec: "h264"}}}
	u.Name, u.Size, u.Hash = "renamed.mp4", 99, Ref("other") // immutable: ignored
	if err := c.UpdateAsset(ctx, &u); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetAsset(ctx, "default", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Note != "checked" || got.Collection != "archive" || got.Thumb != Ref("t2") || got.Poster != Ref("p2") || !got.LegalHold {
		t.Fatalf("mutable fields not stored: %+v", got)
	}
	jsonEq(t, "probe", got.Probe, u.Probe)
	if got.Name != "a.mp4" || got.Size != 1234 || got.Hash != a.Hash || !got.Created.Equal(a.Created) {
		t.Fatalf("immutable fields changed: %+v", got)
	}
	// Clearing works too.
	u.Probe, u.Thumb, u.Note, u.LegalHold = nil, "", "", false
	if err := c.UpdateAsset(ctx, &u); err != nil {
		t.Fatal(err)
	}
	got, _ = c.GetAsset(ctx, "default", a.ID)
	if got.Probe != nil || got.Thumb != "" || got.Note != "" || got.LegalHold {
		t.Fatalf("fields not cleared: %+v", got)
	}
	missing := NewAsset("default", "x")
	mustKind(t, "UpdateAsset of unknown asset", c.UpdateAsset(ctx, missing), glasshouse.ErrNotExist)
}

func testLegalHold(t *testing.T, c glasshouse.Catalog) {
	ctx := context.Background()
	a := NewAsset("default", "evidence.mp4")
	a.LegalHold = true
	create(t, c, a)
	_, err := c.DeleteAsset(ctx, "default", a.ID, ev("default", "delete", a.ID))
	mustKind(t, "DeleteAsset under legal hold", err, glasshouse.ErrConflict)
	if !strings.Contains(err.Error(), "legal hold") {
		t.Fatalf("error %q should name the legal hold", err)
	}
	if _, err := c.GetAsset(ctx, "default", a.ID); err != nil {
		t.Fatalf("held asset gone: %v", err)
	}
	a.LegalHold = false
	if err := c.UpdateAsset(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteAsset(ctx, "default", a.ID, ev("default", "delete", a.ID)); err != nil {
		t.Fatalf("delete after releasing the hold: %v", err)
	}
}

func putResult(t *testing.T, c glasshouse.Catalog, a *glasshouse.Asset, name, version string, ins glasshouse.Insights, blobs ...glasshouse.Ref) *glasshouse.Result {
	t.Helper()
	r := &glasshouse.Result{Asset: a.ID, Tenant: a.Tenant, Insights: ins, Blobs: blobs,
		Run: glasshouse.AnalyzerRun{Name: name, Version: version, Model: "model-" + version, ModelSHA256: strings.Repeat("ab", 32),
			Started: time.Date(2025, 2, 3, 4, 5, 6, 7000, time.UTC), DurationMS: 1500}}
	if err := c.PutResult(context.Background(), r, ev(a.Tenant, "analyze", a.ID)); err != nil {
		t.Fatalf("PutResult %s@%s: %v", name, version, err)
	}
	return r
}

func sortedRefs(rs []glasshouse.Ref) []glasshouse.Ref {
	out := slices.Clone(rs)
	slices.Sort(out)
	if out == nil {
		out = []glasshouse.Ref{}
	}
	return out
}

func inUse(t *testing.T, c glasshouse.Catalog, r glasshouse.Ref) bool {
	t.Helper()
	used, err := c.BlobInUse(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return used
}

func testDeleteOrphans(t *testing.T, c glasshouse.Catalog) {
	ctx := context.Background()
	a := NewAsset("default", "a.mp4")
	a.Thumb, a.Poster = Ref("thumb a"), Ref("poster a")
	b := NewAsset("acme", "b.mp4")
	b.Hash = a.Hash // same content, another tenant
	b.Thumb = Ref("shared thumb")
	create(t, c, a)
	create(t, c, b)
	kfA, kfShared, kfB := Ref("keyframe a"), Ref("keyframe shared"), Ref("keyframe b")
	putResult(t, c, a, "shots", "1", glasshouse.Insights{Keyframes: []glasshouse.Keyframe{{Shot: 0, TimeMS: 0, Image: kfA}}}, kfA, kfShared)
	putResult(t, c, b, "shots", "1", glasshouse.Insights{}, kfShared, kfB)
	for _, r := range []glasshouse.Ref{a.Hash, a.Thumb, a.Poster, b.Thumb, kfA, kfShared, kfB} {
		if !inUse(t, c, r) {
			t.Fatalf("%s should be in use", r)
		}
	}
	if inUse(t, c, Ref("never stored")) {
		t.Fatal("unknown blob in use")
	}

	orphans, err := c.DeleteAsset(ctx, "default", a.ID, ev("default", "delete", a.ID))
	if err != nil {
		t.Fatal(err)
	}
	want := sortedRefs([]glasshouse.Ref{a.Thumb, a.Poster, kfA})
	if got := sortedRefs(orphans); !reflect.DeepEqual(got, want) {
		t.Fatalf("orphans of a:\n got %v\nwant %v (the hash and keyframe shared with b must stay)", got, want)
	}
	for _, r := range want {
		if inUse(t, c, r) {
			t.Fatalf("orphan %s still in use", r)
		}
	}
	_, err = c.GetAsset(ctx, "default", a.ID)
	mustKind(t, "GetAsset after delete", err, glasshouse.ErrNotExist)
	_, err = c.Results(ctx, "default", a.ID)
	mustKind(t, "Results after delete", err, glasshouse.ErrNotExist)
	_, err = c.DeleteAsset(ctx, "default", a.ID, ev("default", "delete", a.ID))
	mustKind(t, "second DeleteAsset", err, glasshouse.ErrNotExist)

	orphans, err = c.DeleteAsset(ctx, "acme", b.ID, ev("acme", "delete", b.ID))
	if err != nil {
		t.Fatal(err)
	}
	want = sortedRefs([]glasshouse.Ref{b.Hash, b.Thumb, kfShared, kfB})
	if got := sortedRefs(orphans); !reflect.DeepEqual(got, want) {
		t.Fatalf("orphans of b:\n got %v\nwant %v", got, want)
	}
}

func testPutResultReplaces(t *testing.T, c glasshouse.Catalog) {
	ctx := context.Background()
	a := create(t, c, NewAsset("default", "talk.mp4"))
	k1, k2 := Ref("kf v1"), Ref("kf v2")
	putResult(t, c, a, "ocr", "1", glasshouse.Insights{OCR: []glasshouse.OCRText{{Text: "OLD", StartMS: 0, EndMS: 1000}}}, k1)
	speech := glasshouse.Insights{Transcript: []glasshouse.TranscriptSegment{{Track: 1, StartMS: 500, EndMS: 2500, Text: "hello world", Confidence: 0.9,
		Words: []glasshouse.Word{{Text: "hello", StartMS: 500, EndMS: 1000, Confidence: 0.95}, {Text: "world", StartMS: 1100, EndMS: 2500, Confidence: 0.85}}}}}
	sp := putResult(t, c, a, "speech", "3", speech)
	newOCR := glasshouse.Insights{OCR: []glasshouse.OCRText{{Text: "NEW", StartMS: 0, EndMS: 2000, Box: glasshouse.Box{X: 0.1, Y: 0.2, W: 0.3, H: 0.05}, Confidence: 0.8}}}
	o2 := putResult(t, c, a, "ocr", "2", newOCR, k2)

	rs, err := c.Results(ctx, "default", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 {
		t.Fatalf("%d results, want 2 (ocr replaced, speech)", len(rs))
	}
	byName := map[string]*glasshouse.Result{}
	for _, r := range rs {
		byName[r.Run.Name] = r
		if r.Asset != a.ID || r.Tenant != "default" {
			t.Fatalf("result %+v", r)
		}
	}
	if byName["ocr"] == nil || byName["speech"] == nil {
		t.Fatalf("results %v", byName)
	}
	jsonEq(t, "ocr insights", byName["ocr"].Insights, newOCR)
	jsonEq(t, "ocr blobs", byName["ocr"].Blobs, []glasshouse.Ref{k2})
	jsonEq(t, "speech insights", byName["speech"].Insights, speech)
	if r := byName["ocr"].Run; r.Version != "2" || r.Model != o2.Run.Model || !r.Started.Equal(o2.Run.Started) || r.DurationMS != 1500 {
		t.Fatalf("ocr run %+v", r)
	}
	if inUse(t, c, k1) || !inUse(t, c, k2) {
		t.Fatal("the replaced result's blob must be released and the new one held")
	}

	got, err := c.GetAsset(ctx, "default", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Runs) != 2 {
		t.Fatalf("runs %+v", got.Runs)
	}
	runs := map[string]glasshouse.AnalyzerRun{}
	for _, r := range got.Runs {
		runs[r.Name] = r
	}
	o := runs["ocr"]
	if o.Version != "2" || o.State != glasshouse.JobDone || o.Model != "model-2" || o.ModelSHA256 != strings.Repeat("ab", 32) ||
		!o.Started.Equal(o2.Run.Started) || o.DurationMS != 1500 || o.Error != "" {
		t.Fatalf("ocr run %+v", o)
	}
	if s := runs["speech"]; s.Version != sp.Run.Version || s.State != glasshouse.JobDone {
		t.Fatalf("speech run %+v", s)
	}
	err = c.PutResult(ctx, &glasshouse.Result{Asset: NewID(), Tenant: "default", Run: glasshouse.AnalyzerRun{Name: "ocr"}}, ev("default", "analyze", ""))
	mustKind(t, "PutResult for unknown asset", err, glasshouse.ErrNotExist)
}

func testRecordRun(t *testing.T, c glasshouse.Catalog) {
	ctx := context.Background()
	a := create(t, c, NewAsset("default", "a.wav"))
	started := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	if err := c.RecordRun(ctx, "default", a.ID, glasshouse.AnalyzerRun{Name: "speech", Version: "1", State: glasshouse.JobFailed,
		Started: started, DurationMS: 20, Error: "model missing"}); err != nil {
		t.Fatal(err)
	}
	if err := c.RecordRun(ctx, "default", a.ID, glasshouse.AnalyzerRun{Name: "faces", Version: "1", State: "skipped"}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetAsset(ctx, "default", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Runs) != 2 {
		t.Fatalf("runs %+v", got.Runs)
	}
	runs := map[string]glasshouse.AnalyzerRun{}
	for _, r := range got.Runs {
		runs[r.Name] = r
	}
	if s := runs["speech"]; s.State != glasshouse.JobFailed || s.Error != "model missing" || !s.Started.Equal(started) || s.DurationMS != 20 {
		t.Fatalf("speech run %+v", s)
	}
	if f := runs["faces"]; f.State != "skipped" {
		t.Fatalf("faces run %+v", f)
	}
	if rs, err := c.Results(ctx, "default", a.ID); err != nil || len(rs) != 0 {
		t.Fatalf("RecordRun made results: %+v %v", rs, err)
	}
	// A later success replaces the failed state.
	putResult(t, c, a, "speech", "2", glasshouse.Insights{})
	got, _ = c.GetAsset(ctx, "default", a.ID)
	for _, r := range got.Runs {
		if r.Name == "speech" && (r.State != glasshouse.JobDone || r.Error != "" || r.Version != "2") {
			t.Fatalf("speech run after success %+v", r)
		}
	}
	err = c.RecordRun(ctx, "default", NewID(), glasshouse.AnalyzerRun{Name: "speech", State: glasshouse.JobFailed})
	mustKind(t, "RecordRun for unknown asset", err, glasshouse.ErrNotExist)
}

// testAuditEvents checks, for catalogs that are also audit logs, that each
// mutation appended its event and failed ones did not.
func testAuditEvents(t *testing.T, c glasshouse.Catalog) {
	log, ok := c.(glasshouse.AuditLog)
	if !ok {
		t.Skip("catalog is not an AuditLog")
	}
	ctx := context.Background()
	a := NewAsset("default", "a.mp4")
	a.LegalHold = true
	create(t, c, a)
	putResult(t, c, a, "ocr", "1", glasshouse.Insights{})
	dup := NewAsset("default", "dup")
	dup.ID = a.ID
	if err := c.CreateAsset(ctx, dup, nil, ev("default", "upload-dup", dup.ID)); err == nil {
		t.Fatal("duplicate CreateAsset succeeded")
	}
	if _, err := c.DeleteAsset(ctx, "default", a.ID, ev("default", "delete-held", a.ID)); err == nil {
		t.Fatal("delete under hold succeeded")
	}
	a.LegalHold = false
	if err := c.UpdateAsset(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteAsset(ctx, "default", a.ID, ev("default", "delete", a.ID)); err != nil {
		t.Fatal(err)
	}
	evs, err := log.Events(ctx, "default", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range evs {
		actions = append(actions, e.Action)
		if e.Target != string(a.ID) {
			t.Errorf("event %s targets %q", e.Action, e.Target)
		}
	}
	if want := []string{"upload", "analyze", "delete"}; !reflect.DeepEqual(actions, want) {
		t.Fatalf("audit actions %v, want %v", actions, want)
	}
}

// testListSorted pages through every sort order: each asset appears once,
// in order, and a cursor only works with the sort it was made for.
func testListSorted(t *testing.T, c glasshouse.Catalog) {
	ctx := context.Background()
	const tenant = "sorted"
	names := []string{"delta.mp4", "alpha.mp4", "echo.mp4", "charlie.mp4", "bravo.mp4", "alpha.mp4", "foxtrot.mp4"}
	for i, n := range names {
		a := NewAsset(tenant, n)
		a.Size = int64(100 * ((i * 3) % 5)) // ties on purpose
		a.Hash = Ref(fmt.Sprint("sorted ", i))
		create(t, c, a)
	}
	for _, sort := range []string{"newest", "oldest", "name", "size"} {
		var got []*glasshouse.Asset
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > len(names) {
				t.Fatalf("%s: too many pages", sort)
			}
			p, err := c.ListAssets(ctx, glasshouse.AssetFilter{Tenant: tenant, Sort: sort, Limit: 2, Cursor: cursor})
			if err != nil {
				t.Fatalf("%s: %v", sort, err)
			}
			got = append(got, p.Assets...)
			if p.Next == "" {
				break
			}
			cursor = p.Next
		}
		if len(got) != len(names) {
			t.Fatalf("%s: %d assets over all pages, want %d", sort, len(got), len(names))
		}
		seen := map[glasshouse.AssetID]bool{}
		for i, a := range got {
			if seen[a.ID] {
				t.Errorf("%s: %s listed twice", sort, a.ID)
			}
			seen[a.ID] = true
			if i == 0 {
				continue
			}
			p := got[i-1]
			var ok bool
			switch sort {
			case "name":
				ok = p.Name < a.Name || p.Name == a.Name && p.ID < a.ID
			case "size":
				ok = p.Size > a.Size || p.Size == a.Size && p.ID > a.ID
			case "oldest":
				ok = !p.Created.After(a.Created)
			default:
				ok = !p.Created.Before(a.Created)
			}
			if !ok {
				t.Errorf("%s: %s (%s, %d) listed before %s (%s, %d)", sort, p.ID, p.Name, p.Size, a.ID, a.Name, a.Size)
			}
		}
	}
	p, err := c.ListAssets(ctx, glasshouse.AssetFilter{Tenant: tenant, Sort: "name", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListAssets(ctx, glasshouse.AssetFilter{Tenant: tenant, Sort: "size", Cursor: p.Next}); !errors.Is(err, glasshouse.ErrInvalid) {
		t.Errorf("a name cursor used with size sort: %v, want ErrInvalid", err)
	}
	if _, err := c.ListAssets(ctx, glasshouse.AssetFilter{Tenant: tenant, Sort: "colour"}); !errors.Is(err, glasshouse.ErrInvalid) {
		t.Errorf("unknown sort: %v, want ErrInvalid", err)
	}
}
