// Package redacttest is the conformance suite for redact.Store backends.
package redacttest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/redact"
)

// Backend is a redact.Store that also keeps the assets plans belong to.
type Backend interface {
	redact.Store
	CreateAsset(ctx context.Context, a *glasshouse.Asset, jobs []glasshouse.Job, ev glasshouse.AuditEvent) error
	DeleteAsset(ctx context.Context, tenant glasshouse.TenantID, id glasshouse.AssetID, ev glasshouse.AuditEvent) ([]glasshouse.Ref, error)
}

// Run runs the suite; newBackend must return an empty backend for each call.
func Run(t *testing.T, newBackend func(t *testing.T) Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b Backend)
	}{
		{"PlanMissing", testPlanMissing},
		{"PlanRoundTrip", testPlanRoundTrip},
		{"PlanConflict", testPlanConflict},
		{"PlanTenantIsolation", testPlanTenants},
		{"PlanGoesWithAsset", testPlanDeleted},
		{"RenderLifecycle", testRender},
		{"RenderInvalid", testRenderInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newBackend(t)) })
	}
}

var n int

func newAsset(t *testing.T, b Backend, tenant glasshouse.TenantID) *glasshouse.Asset {
	t.Helper()
	n++
	sum := sha256.Sum256([]byte(fmt.Sprint(time.Now().UnixNano(), n)))
	a := &glasshouse.Asset{ID: glasshouse.AssetID(fmt.Sprintf("asset-%d-%d", time.Now().UnixNano(), n)), Tenant: tenant, Name: "v.mp4",
		MediaType: "video/mp4", Kind: glasshouse.KindVideo, Size: 10, Hash: glasshouse.RefFromSum(sum[:]), Created: time.Now().UTC(),
		Probe: &glasshouse.ProbeInfo{DurationMS: 10000, Width: 640, Height: 360, FrameRate: 25}}
	if err := b.CreateAsset(context.Background(), a, nil, glasshouse.NewEvent(glasshouse.System(tenant), "upload", string(a.ID), nil)); err != nil {
		t.Fatal(err)
	}
	return a
}

func samplePlan(a *glasshouse.Asset) *redact.Plan {
	p := redact.Draft(a, &glasshouse.Insights{Faces: []glasshouse.Face{{StartMS: 0, EndMS: 5000, Box: glasshouse.Box{X: 0.4, Y: 0.2, W: 0.2, H: 0.3}, Score: 0.93}}})
	p.Regions = append(p.Regions, redact.Region{ID: "m1", Kind: redact.KindManual, StartMS: 1000, EndMS: 2000, Box: glasshouse.Box{X: 0.1, Y: 0.1, W: 0.1, H: 0.1}, Label: "sign"})
	p.Audio = append(p.Audio, redact.AudioCut{StartMS: 500, EndMS: 900, Mode: redact.AudioBleep, Word: "forward"})
	p.Settings.Fill = redact.FillPixelate
	return p
}

func wantKind(t *testing.T, err, kind error, what string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s: err = %v, want %v", what, err, kind)
	}
}

func testPlanMissing(t *testing.T, b Backend) {
	a := newAsset(t, b, "t1")
	_, err := b.GetPlan(context.Background(), "t1", a.ID)
	wantKind(t, err, glasshouse.ErrNotExist, "plan never saved")
	p := samplePlan(a)
	p.Asset = "no-such-asset"
	wantKind(t, b.PutPlan(context.Background(), p), glasshouse.ErrNotExist, "plan of an unknown asset")
}

func testPlanRoundTrip(t *testing.T, b Backend) {
	ctx := context.Background()
	a := newAsset(t, b, "t1")
	p := samplePlan(a)
	if err := b.PutPlan(ctx, p); err != nil {
		t.Fatal(err)
	}
	if p.Revision != 1 || p.Updated.IsZero() {
		t.Fatalf("after the first save revision %d updated %v, want 1 and a time", p.Revision, p.Updated)
	}
	got, err := b.GetPlan(ctx, "t1", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Revision != 1 || !reflect.DeepEqual(got.Regions, p.Regions) || !reflect.DeepEqual(got.Audio, p.Audio) ||
		got.Settings != p.Settings || got.Faces != p.Faces || got.Asset != a.ID || got.Tenant != "t1" {
		t.Fatalf("stored plan differs:\n got %+v\nwant %+v", got, p)
	}
	got.Regions[1].Off = true
	if err := b.PutPlan(ctx, got); err != nil {
		t.Fatal(err)
	}
	again, err := b.GetPlan(ctx, "t1", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if again.Revision != 2 || !again.Regions[1].Off {
		t.Fatalf("second save not stored: revision %d off %v", again.Revision, again.Regions[1].Off)
	}
}

func testPlanConflict(t *testing.T, b Backend) {
	ctx := context.Background()
	a := newAsset(t, b, "t1")
	p1, p2 := samplePlan(a), samplePlan(a)
	if err := b.PutPlan(ctx, p1); err != nil {
		t.Fatal(err)
	}
	wantKind(t, b.PutPlan(ctx, p2), glasshouse.ErrConflict, "a second first save")
	if err := b.PutPlan(ctx, p1); err != nil { // based on revision 1
		t.Fatal(err)
	}
	stale := *p1
	stale.Revision = 1
	stale.Settings.Fill = redact.FillBlur
	wantKind(t, b.PutPlan(ctx, &stale), glasshouse.ErrConflict, "save based on a stale revision")
	got, err := b.GetPlan(ctx, "t1", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Revision != 2 || got.Settings.Fill != redact.FillPixelate {
		t.Fatalf("a refused save changed the plan: revision %d fill %s", got.Revision, got.Settings.Fill)
	}
}

func testPlanTenants(t *testing.T, b Backend) {
	ctx := context.Background()
	a := newAsset(t, b, "t1")
	if err := b.PutPlan(ctx, samplePlan(a)); err != nil {
		t.Fatal(err)
	}
	_, err := b.GetPlan(ctx, "t2", a.ID)
	wantKind(t, err, glasshouse.ErrNotExist, "another tenant's plan")
	p := samplePlan(a)
	p.Tenant = "t2"
	wantKind(t, b.PutPlan(ctx, p), glasshouse.ErrNotExist, "saving a plan for another tenant's asset")
}

func testPlanDeleted(t *testing.T, b Backend) {
	ctx := context.Background()
	a := newAsset(t, b, "t1")
	if err := b.PutPlan(ctx, samplePlan(a)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.DeleteAsset(ctx, "t1", a.ID, glasshouse.NewEvent(glasshouse.System("t1"), "delete", string(a.ID), nil)); err != nil {
		t.Fatal(err)
	}
	_, err := b.GetPlan(ctx, "t1", a.ID)
	wantKind(t, err, glasshouse.ErrNotExist, "plan of a deleted asset")
}

func testRender(t *testing.T, b Backend) {
	ctx := context.Background()
	a := newAsset(t, b, "t1")
	var ids []string
	for i := 0; i < 3; i++ {
		r := &redact.Render{ID: fmt.Sprintf("r%d-%d", i, time.Now().UnixNano()), Tenant: "t1", Source: a.ID, SourceHash: a.Hash, Plan: samplePlan(a), Requester: "ann"}
		if err := b.CreateRender(ctx, r); err != nil {
			t.Fatal(err)
		}
		if r.State != redact.StateQueued || r.Created.IsZero() {
			t.Fatalf("new render state %q created %v", r.State, r.Created)
		}
		ids = append(ids, r.ID)
		time.Sleep(2 * time.Millisecond)
	}
	r, err := b.GetRender(ctx, "t1", ids[1])
	if err != nil {
		t.Fatal(err)
	}
	if r.Source != a.ID || r.SourceHash != a.Hash || r.Requester != "ann" || r.Plan == nil || len(r.Plan.Audio) != 1 || r.Plan.Audio[0].Word != "forward" {
		t.Fatalf("render read back wrong: %+v", r)
	}
	man, _ := json.Marshal(redact.Manifest{Format: 1, Render: r.ID, Source: redact.FileRef{Hash: a.Hash}})
	r.State, r.Output, r.OutputHash, r.Manifest = redact.StateDone, "out-asset", a.Hash, man
	if err := b.UpdateRender(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := b.GetRender(ctx, "t1", ids[1])
	if err != nil {
		t.Fatal(err)
	}
	var m redact.Manifest
	if err := json.Unmarshal(got.Manifest, &m); err != nil || m.Render != r.ID || got.State != redact.StateDone || got.Output != "out-asset" {
		t.Fatalf("update not stored: %+v (manifest err %v)", got, err)
	}
	list, err := b.Renders(ctx, "t1", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].ID != ids[2] || list[2].ID != ids[0] {
		t.Fatalf("renders not listed newest first: %d", len(list))
	}
	_, err = b.GetRender(ctx, "t2", ids[0])
	wantKind(t, err, glasshouse.ErrNotExist, "another tenant's render")
	if l, err := b.Renders(ctx, "t2", a.ID); err != nil || len(l) != 0 {
		t.Fatalf("another tenant lists %d renders (err %v)", len(l), err)
	}
	// Renders outlive their source: the manifest records what was published.
	if _, err := b.DeleteAsset(ctx, "t1", a.ID, glasshouse.NewEvent(glasshouse.System("t1"), "delete", string(a.ID), nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetRender(ctx, "t1", ids[1]); err != nil {
		t.Fatalf("render gone with its source: %v", err)
	}
}

func testRenderInvalid(t *testing.T, b Backend) {
	ctx := context.Background()
	a := newAsset(t, b, "t1")
	wantKind(t, b.CreateRender(ctx, &redact.Render{ID: "x", Tenant: "t1", Source: a.ID}), glasshouse.ErrInvalid, "render without a plan")
	r := &redact.Render{ID: "r-inv", Tenant: "t1", Source: a.ID, SourceHash: a.Hash, Plan: samplePlan(a)}
	if err := b.CreateRender(ctx, r); err != nil {
		t.Fatal(err)
	}
	wantKind(t, b.CreateRender(ctx, r), glasshouse.ErrExist, "the same render id twice")
	r.State = "bogus"
	wantKind(t, b.UpdateRender(ctx, r), glasshouse.ErrInvalid, "unknown state")
	r.State, r.Manifest = redact.StateDone, json.RawMessage("{not json")
	wantKind(t, b.UpdateRender(ctx, r), glasshouse.ErrInvalid, "manifest that is not JSON")
	_, err := b.GetRender(ctx, "t1", "missing")
	wantKind(t, err, glasshouse.ErrNotExist, "unknown render")
}
