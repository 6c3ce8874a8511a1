// Package governancetest is the conformance suite for the governance part
// of a glasshouse store: retention rules, legal holds, deletion records,
// tenant policy (storage quota, allowed analyzers) and usage reports. The
// embedded SQLite backend is the reference; every backend runs the suite.
//
// Times that matter are injected (asset creation times, the now of
// DueAssets, report periods); nothing sleeps.
package governancetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/catalogtest"
)

// Backend is what the suite needs: the catalog (CreateAsset checks the
// quota, DeleteAsset writes the deletion record), the audit log (every
// governance write appends its event) and the governance methods.
type Backend interface {
	glasshouse.Catalog
	glasshouse.AuditLog
	SetRetention(ctx context.Context, r glasshouse.RetentionRule, ev glasshouse.AuditEvent) error
	DeleteRetention(ctx context.Context, tenant glasshouse.TenantID, all bool, collection string, ev glasshouse.AuditEvent) error
	RetentionRules(ctx context.Context, tenant glasshouse.TenantID) ([]glasshouse.RetentionRule, error)
	DueAssets(ctx context.Context, now time.Time) ([]glasshouse.DueAsset, error)
	SetHold(ctx context.Context, h glasshouse.Hold, ev glasshouse.AuditEvent) error
	ReleaseHold(ctx context.Context, tenant glasshouse.TenantID, scope, target string, ev glasshouse.AuditEvent) error
	Holds(ctx context.Context, tenant glasshouse.TenantID) ([]glasshouse.Hold, error)
	DeletionRecords(ctx context.Context, tenant glasshouse.TenantID, from, to time.Time) ([]glasshouse.DeletionRecord, error)
	Policy(ctx context.Context, tenant glasshouse.TenantID) (*glasshouse.Policy, error)
	SetPolicy(ctx context.Context, p *glasshouse.Policy, ev glasshouse.AuditEvent) error
	Tenants(ctx context.Context) ([]glasshouse.TenantID, error)
	UsageReport(ctx context.Context, tenant glasshouse.TenantID, from, to time.Time) (*glasshouse.Usage, error)
}

// Run runs the suite; newBackend must return an empty store for each call.
func Run(t *testing.T, newBackend func(t *testing.T) Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b Backend)
	}{
		{"Retention", testRetention},
		{"RetentionInvalid", testRetentionInvalid},
		{"DueAssets", testDueAssets},
		{"Holds", testHolds},
		{"HoldBlocksDelete", testHoldBlocksDelete},
		{"HeldAssetNotDeletedByRetention", testHeldNotDeleted},
		{"HoldRacesDeletes", testHoldRacesDeletes},
		{"DeletionRecords", testDeletionRecords},
		{"Policy", testPolicy},
		{"Quota", testQuota},
		{"QuotaConcurrent", testQuotaConcurrent},
		{"Usage", testUsage},
		{"TenantIsolation", testTenantIsolation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newBackend(t)) })
	}
}

const day = 24 * time.Hour

var ctx = context.Background()

func actor(t glasshouse.TenantID) glasshouse.Actor {
	return glasshouse.Actor{Tenant: t, User: "tester"}
}

func ev(t glasshouse.TenantID, action, target string, detail any) glasshouse.AuditEvent {
	return glasshouse.NewEvent(actor(t), action, target, detail)
}

// asset creates an asset of tenant in coll with size bytes, stored at created.
func asset(t *testing.T, b Backend, tenant glasshouse.TenantID, coll, name string, size int64, created time.Time) *glasshouse.Asset {
	t.Helper()
	a := catalogtest.NewAsset(tenant, name)
	a.Collection, a.Size, a.Created = coll, size, created
	if err := b.CreateAsset(ctx, a, nil, ev(tenant, "upload", string(a.ID), nil)); err != nil {
		t.Fatalf("CreateAsset %s: %v", name, err)
	}
	return a
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantKind(t *testing.T, what string, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s: err %v, want %v", what, err, kind)
	}
}

// events returns the tenant's audit events of action.
func events(t *testing.T, b Backend, tenant glasshouse.TenantID, action string) []glasshouse.AuditEvent {
	t.Helper()
	all, err := b.Events(ctx, tenant, 0, 0)
	must(t, err)
	var out []glasshouse.AuditEvent
	for _, e := range all {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

func wantEvents(t *testing.T, b Backend, tenant glasshouse.TenantID, action string, n int) []glasshouse.AuditEvent {
	t.Helper()
	evs := events(t, b, tenant, action)
	if len(evs) != n {
		t.Fatalf("tenant %s has %d %q audit events, want %d", tenant, len(evs), action, n)
	}
	return evs
}

func assetExists(t *testing.T, b Backend, tenant glasshouse.TenantID, id glasshouse.AssetID) bool {
	t.Helper()
	_, err := b.GetAsset(ctx, tenant, id)
	if errors.Is(err, glasshouse.ErrNotExist) {
		return false
	}
	must(t, err)
	return true
}

// ---------------------------------------------------------------------------

func testRetention(t *testing.T, b Backend) {
	before := time.Now()
	rules, err := b.RetentionRules(ctx, "acme")
	must(t, err)
	if rules == nil || len(rules) != 0 {
		t.Fatalf("rules of a new tenant: %#v, want an empty non-nil list", rules)
	}
	set := func(r glasshouse.RetentionRule) {
		t.Helper()
		r.Tenant, r.SetBy = "acme", "ann"
		must(t, b.SetRetention(ctx, r, ev("acme", "retention_set", "", map[string]any{"all": r.All, "collection": r.Collection, "days": r.Days})))
	}
	set(glasshouse.RetentionRule{Collection: "news", Days: 30})
	set(glasshouse.RetentionRule{Collection: "", Days: 7}) // the default collection
	set(glasshouse.RetentionRule{All: true, Collection: "ignored", Days: 365})
	set(glasshouse.RetentionRule{Collection: "archive", Days: 3650})
	set(glasshouse.RetentionRule{Collection: "news", Days: 60}) // replaces
	after := time.Now()
	rules, err = b.RetentionRules(ctx, "acme")
	must(t, err)
	type rk struct {
		all  bool
		coll string
		days int
	}
	var got []rk
	for _, r := range rules {
		got = append(got, rk{r.All, r.Collection, r.Days})
		if r.Tenant != "acme" || r.SetBy != "ann" {
			t.Errorf("rule %+v: tenant/set_by wrong", r)
		}
		if r.Updated.Before(before.Add(-time.Second)) || r.Updated.After(after.Add(time.Second)) {
			t.Errorf("rule %+v: updated %v not within the test's run [%v, %v]", r, r.Updated, before, after)
		}
	}
	want := []rk{{true, "", 365}, {false, "", 7}, {false, "archive", 3650}, {false, "news", 60}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rules %+v, want (tenant-wide first, then by collection) %+v", got, want)
	}
	wantEvents(t, b, "acme", "retention_set", 5)

	must(t, b.DeleteRetention(ctx, "acme", false, "news", ev("acme", "retention_delete", "", nil)))
	must(t, b.DeleteRetention(ctx, "acme", true, "", ev("acme", "retention_delete", "", nil)))
	wantKind(t, "delete a deleted rule", b.DeleteRetention(ctx, "acme", false, "news", ev("acme", "retention_delete", "", nil)), glasshouse.ErrNotExist)
	wantKind(t, "delete a deleted tenant-wide rule", b.DeleteRetention(ctx, "acme", true, "", ev("acme", "retention_delete", "", nil)), glasshouse.ErrNotExist)
	// The default collection's rule is not the tenant-wide rule.
	wantKind(t, "delete tenant-wide rule when only a default collection rule is left",
		b.DeleteRetention(ctx, "acme", true, "", ev("acme", "retention_delete", "", nil)), glasshouse.ErrNotExist)
	wantEvents(t, b, "acme", "retention_delete", 2)
	rules, err = b.RetentionRules(ctx, "acme")
	must(t, err)
	if len(rules) != 2 || rules[0].Collection != "" || rules[0].All || rules[1].Collection != "archive" {
		t.Fatalf("rules after deletes: %+v, want the default collection's and archive's", rules)
	}
}

func testRetentionInvalid(t *testing.T, b Backend) {
	for _, r := range []glasshouse.RetentionRule{
		{Tenant: "acme", Collection: "news", Days: 0},
		{Tenant: "acme", All: true, Days: -1},
		{Tenant: "", Collection: "news", Days: 10},
	} {
		wantKind(t, fmt.Sprintf("SetRetention %+v", r), b.SetRetention(ctx, r, ev("acme", "retention_set", "", nil)), glasshouse.ErrInvalid)
	}
	// An event without an action is refused and the rule is not stored.
	if err := b.SetRetention(ctx, glasshouse.RetentionRule{Tenant: "acme", Collection: "x", Days: 3}, glasshouse.AuditEvent{Tenant: "acme"}); err == nil {
		t.Fatal("SetRetention with an invalid audit event succeeded")
	}
	rules, err := b.RetentionRules(ctx, "acme")
	must(t, err)
	if len(rules) != 0 {
		t.Fatalf("rules after failed sets: %+v", rules)
	}
	wantEvents(t, b, "acme", "retention_set", 0)
}

func testDueAssets(t *testing.T, b Backend) {
	now := time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	// acme: news 10 days, long 200 days, tenant-wide 100 days.
	for _, r := range []glasshouse.RetentionRule{
		{Tenant: "acme", Collection: "news", Days: 10},
		{Tenant: "acme", Collection: "long", Days: 200},
		{Tenant: "acme", All: true, Days: 100},
		{Tenant: "beta", Collection: "news", Days: 1}, // beta: collection rule only
	} {
		must(t, b.SetRetention(ctx, r, ev(r.Tenant, "retention_set", "", nil)))
	}
	newsOld := asset(t, b, "acme", "news", "news-old", 1, ago(20*day))
	newsEdge := asset(t, b, "acme", "news", "news-edge", 1, ago(10*day)) // exactly due
	asset(t, b, "acme", "news", "news-young", 1, ago(10*day-time.Nanosecond))
	miscOld := asset(t, b, "acme", "misc", "misc-old", 1, ago(150*day))
	asset(t, b, "acme", "misc", "misc-young", 1, ago(50*day))
	asset(t, b, "acme", "long", "long-150", 1, ago(150*day)) // the collection's longer rule wins
	longOld := asset(t, b, "acme", "long", "long-250", 1, ago(250*day))
	betaNews := asset(t, b, "beta", "news", "beta-news", 1, ago(2*day))
	asset(t, b, "beta", "misc", "beta-misc", 1, ago(1000*day)) // no rule covers it
	asset(t, b, "gamma", "news", "gamma", 1, ago(5000*day))    // no rules at all

	due, err := b.DueAssets(ctx, now)
	must(t, err)
	want := []glasshouse.DueAsset{
		{Tenant: "acme", ID: longOld.ID, Days: 200, All: false},
		{Tenant: "acme", ID: miscOld.ID, Days: 100, All: true},
		{Tenant: "acme", ID: newsOld.ID, Days: 10, All: false},
		{Tenant: "acme", ID: newsEdge.ID, Days: 10, All: false},
		{Tenant: "beta", ID: betaNews.ID, Days: 1, All: false},
	}
	if !reflect.DeepEqual(due, want) {
		t.Fatalf("DueAssets(now):\n got %+v\nwant %+v (oldest first)", due, want)
	}
	// Earlier, fewer are due; a rule deleted stops covering its assets.
	due, err = b.DueAssets(ctx, ago(5*day))
	must(t, err)
	if len(due) != 3 || due[0].ID != longOld.ID || due[1].ID != miscOld.ID || due[2].ID != newsOld.ID {
		t.Fatalf("DueAssets(now - 5 days): %+v", due)
	}
	must(t, b.DeleteRetention(ctx, "acme", true, "", ev("acme", "retention_delete", "", nil)))
	due, err = b.DueAssets(ctx, now)
	must(t, err)
	for _, d := range due {
		if d.ID == miscOld.ID {
			t.Fatalf("asset covered only by a deleted tenant-wide rule is still due: %+v", due)
		}
	}
	if len(due) != 4 {
		t.Fatalf("DueAssets after deleting the tenant-wide rule: %+v, want 4", due)
	}
}

func testHolds(t *testing.T, b Backend) {
	a := asset(t, b, "acme", "evidence", "a", 10, time.Time{})
	other := asset(t, b, "beta", "evidence", "b", 10, time.Time{})
	hs, err := b.Holds(ctx, "acme")
	must(t, err)
	if hs == nil || len(hs) != 0 {
		t.Fatalf("holds of a new tenant: %#v, want empty non-nil", hs)
	}
	before := time.Now()
	must(t, b.SetHold(ctx, glasshouse.Hold{Tenant: "acme", Scope: glasshouse.HoldAsset, Target: string(a.ID), Reason: "case 17", SetBy: "ann"},
		ev("acme", "hold_set", string(a.ID), map[string]any{"scope": "asset"})))
	must(t, b.SetHold(ctx, glasshouse.Hold{Tenant: "acme", Scope: glasshouse.HoldCollection, Target: "evidence", Reason: "case 18", SetBy: "ann"},
		ev("acme", "hold_set", "evidence", map[string]any{"scope": "collection"})))
	// A collection hold needs no asset in it.
	must(t, b.SetHold(ctx, glasshouse.Hold{Tenant: "acme", Scope: glasshouse.HoldCollection, Target: "empty", Reason: "case 19", SetBy: "bob"},
		ev("acme", "hold_set", "empty", nil)))
	// Setting again updates the reason, keeps one hold.
	must(t, b.SetHold(ctx, glasshouse.Hold{Tenant: "acme", Scope: glasshouse.HoldCollection, Target: "empty", Reason: "case 20", SetBy: "bob"},
		ev("acme", "hold_set", "empty", nil)))
	after := time.Now()
	wantEvents(t, b, "acme", "hold_set", 4)

	// Refused: no such asset, another tenant's asset, bad scope, no reason.
	for name, h := range map[string]glasshouse.Hold{
		"missing asset":        {Tenant: "acme", Scope: glasshouse.HoldAsset, Target: "nope", Reason: "r"},
		"other tenant's asset": {Tenant: "acme", Scope: glasshouse.HoldAsset, Target: string(other.ID), Reason: "r"},
		"bad scope":            {Tenant: "acme", Scope: "tenant", Target: "x", Reason: "r"},
		"empty reason":         {Tenant: "acme", Scope: glasshouse.HoldCollection, Target: "x", Reason: "  "},
		"no tenant":            {Scope: glasshouse.HoldCollection, Target: "x", Reason: "r"},
	} {
		err := b.SetHold(ctx, h, ev("acme", "hold_set", h.Target, nil))
		kind := glasshouse.ErrInvalid
		if strings.Contains(name, "asset") {
			kind = glasshouse.ErrNotExist
		}
		wantKind(t, "SetHold "+name, err, kind)
	}
	wantEvents(t, b, "acme", "hold_set", 4)
	if g, err := b.GetAsset(ctx, "beta", other.ID); err != nil || g.LegalHold {
		t.Fatalf("another tenant's asset after a refused hold: %+v %v", g, err)
	}

	hs, err = b.Holds(ctx, "acme")
	must(t, err)
	type hk struct{ scope, target, reason, by string }
	var got []hk
	for _, h := range hs {
		got = append(got, hk{h.Scope, h.Target, h.Reason, h.SetBy})
		if h.Tenant != "acme" || h.Since.Before(before.Add(-time.Second)) || h.Since.After(after.Add(time.Second)) {
			t.Errorf("hold %+v: tenant or since wrong", h)
		}
	}
	want := []hk{{"asset", string(a.ID), "case 17", "ann"}, {"collection", "empty", "case 20", "bob"}, {"collection", "evidence", "case 18", "ann"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("holds %+v, want %+v", got, want)
	}
	if g, err := b.GetAsset(ctx, "acme", a.ID); err != nil || !g.LegalHold {
		t.Fatalf("asset under an asset hold: LegalHold %v, err %v; want true", g != nil && g.LegalHold, err)
	}
	if hs, _ := b.Holds(ctx, "beta"); len(hs) != 0 {
		t.Fatalf("beta sees holds %+v", hs)
	}

	must(t, b.ReleaseHold(ctx, "acme", glasshouse.HoldAsset, string(a.ID), ev("acme", "hold_release", string(a.ID), nil)))
	must(t, b.ReleaseHold(ctx, "acme", glasshouse.HoldCollection, "empty", ev("acme", "hold_release", "empty", nil)))
	wantKind(t, "release twice", b.ReleaseHold(ctx, "acme", glasshouse.HoldAsset, string(a.ID), ev("acme", "hold_release", string(a.ID), nil)), glasshouse.ErrNotExist)
	wantKind(t, "release a collection hold as an asset hold", b.ReleaseHold(ctx, "acme", glasshouse.HoldAsset, "evidence", ev("acme", "hold_release", "evidence", nil)), glasshouse.ErrNotExist)
	wantEvents(t, b, "acme", "hold_release", 2)
	if g, err := b.GetAsset(ctx, "acme", a.ID); err != nil || g.LegalHold {
		t.Fatalf("asset after its hold was released: LegalHold still set (%v)", err)
	}
	hs, err = b.Holds(ctx, "acme")
	must(t, err)
	if len(hs) != 1 || hs[0].Target != "evidence" {
		t.Fatalf("holds after releases: %+v", hs)
	}
}

func deleteEv(tenant glasshouse.TenantID, a *glasshouse.Asset, reason string) glasshouse.AuditEvent {
	act := actor(tenant)
	if reason == glasshouse.DeletedByRetention {
		act = glasshouse.System(tenant)
	}
	return glasshouse.NewEvent(act, "delete", string(a.ID), map[string]any{"name": a.Name, "hash": a.Hash, "size": a.Size, "reason": reason})
}

func testHoldBlocksDelete(t *testing.T, b Backend) {
	held := asset(t, b, "acme", "inbox", "held", 10, time.Time{})
	inColl := asset(t, b, "acme", "evidence", "in-coll", 10, time.Time{})
	free := asset(t, b, "acme", "inbox", "free", 10, time.Time{})
	otherTenant := asset(t, b, "beta", "evidence", "beta-evidence", 10, time.Time{})
	must(t, b.SetHold(ctx, glasshouse.Hold{Tenant: "acme", Scope: glasshouse.HoldAsset, Target: string(held.ID), Reason: "case 17", SetBy: "ann"}, ev("acme", "hold_set", "", nil)))
	must(t, b.SetHold(ctx, glasshouse.Hold{Tenant: "acme", Scope: glasshouse.HoldCollection, Target: "evidence", Reason: "case 18", SetBy: "ann"}, ev("acme", "hold_set", "", nil)))

	_, err := b.DeleteAsset(ctx, "acme", held.ID, deleteEv("acme", held, glasshouse.DeletedByUser))
	wantKind(t, "delete an asset under hold", err, glasshouse.ErrConflict)
	if !strings.Contains(err.Error(), "case 17") {
		t.Errorf("conflict %q does not name the hold's reason", err)
	}
	_, err = b.DeleteAsset(ctx, "acme", inColl.ID, deleteEv("acme", inColl, glasshouse.DeletedByUser))
	wantKind(t, "delete an asset in a held collection", err, glasshouse.ErrConflict)
	if !strings.Contains(err.Error(), "evidence") || !strings.Contains(err.Error(), "case 18") {
		t.Errorf("conflict %q does not name the collection and reason", err)
	}
	// Nothing was written by the refused deletes.
	if !assetExists(t, b, "acme", held.ID) || !assetExists(t, b, "acme", inColl.ID) {
		t.Fatal("a refused delete removed the asset")
	}
	wantEvents(t, b, "acme", "delete", 0)
	recs, err := b.DeletionRecords(ctx, "acme", time.Time{}, time.Now().Add(day))
	must(t, err)
	if len(recs) != 0 {
		t.Fatalf("refused deletes left deletion records %+v", recs)
	}
	// The same collection name in another tenant is not held.
	if _, err := b.DeleteAsset(ctx, "beta", otherTenant.ID, deleteEv("beta", otherTenant, glasshouse.DeletedByUser)); err != nil {
		t.Fatalf("acme's collection hold blocked beta's delete: %v", err)
	}
	if _, err := b.DeleteAsset(ctx, "acme", free.ID, deleteEv("acme", free, glasshouse.DeletedByUser)); err != nil {
		t.Fatal(err)
	}
	// Released, both go.
	must(t, b.ReleaseHold(ctx, "acme", glasshouse.HoldAsset, string(held.ID), ev("acme", "hold_release", "", nil)))
	must(t, b.ReleaseHold(ctx, "acme", glasshouse.HoldCollection, "evidence", ev("acme", "hold_release", "", nil)))
	for _, a := range []*glasshouse.Asset{held, inColl} {
		if _, err := b.DeleteAsset(ctx, "acme", a.ID, deleteEv("acme", a, glasshouse.DeletedByUser)); err != nil {
			t.Fatalf("delete %s after release: %v", a.Name, err)
		}
	}
	wantEvents(t, b, "acme", "delete", 3)
}

// testHeldNotDeleted: a held asset past its retention is listed as due (the
// sweep counts it as kept by a hold) but deleting it is refused; once the
// hold is released it goes.
func testHeldNotDeleted(t *testing.T, b Backend) {
	now := time.Now()
	old := asset(t, b, "acme", "news", "old", 10, now.Add(-40*day))
	oldColl := asset(t, b, "acme", "evidence", "old-in-held-coll", 10, now.Add(-40*day))
	must(t, b.SetRetention(ctx, glasshouse.RetentionRule{Tenant: "acme", All: true, Days: 30}, ev("acme", "retention_set", "", nil)))
	must(t, b.SetHold(ctx, glasshouse.Hold{Tenant: "acme", Scope: glasshouse.HoldAsset, Target: string(old.ID), Reason: "r1"}, ev("acme", "hold_set", "", nil)))
	must(t, b.SetHold(ctx, glasshouse.Hold{Tenant: "acme", Scope: glasshouse.HoldCollection, Target: "evidence", Reason: "r2"}, ev("acme", "hold_set", "", nil)))
	due, err := b.DueAssets(ctx, now)
	must(t, err)
	if len(due) != 2 {
		t.Fatalf("due %+v, want both held assets listed", due)
	}
	for _, d := range due {
		_, err := b.DeleteAsset(ctx, d.Tenant, d.ID, glasshouse.NewEvent(glasshouse.System(d.Tenant), "delete", string(d.ID), map[string]any{"reason": "retention"}))
		wantKind(t, "retention delete of a held asset", err, glasshouse.ErrConflict)
	}
	if !assetExists(t, b, "acme", old.ID) || !assetExists(t, b, "acme", oldColl.ID) {
		t.Fatal("held asset deleted")
	}
	must(t, b.ReleaseHold(ctx, "acme", glasshouse.HoldAsset, string(old.ID), ev("acme", "hold_release", "", nil)))
	for _, d := range due {
		_, err := b.DeleteAsset(ctx, d.Tenant, d.ID, glasshouse.NewEvent(glasshouse.System(d.Tenant), "delete", string(d.ID), map[string]any{"reason": "retention"}))
		if d.ID == old.ID && err != nil {
			t.Fatalf("retention delete after release: %v", err)
		}
		if d.ID == oldColl.ID {
			wantKind(t, "retention delete in a still held collection", err, glasshouse.ErrConflict)
		}
	}
	recs, err := b.DeletionRecords(ctx, "acme", time.Time{}, time.Now().Add(day))
	must(t, err)
	if len(recs) != 1 || recs[0].Asset != old.ID || recs[0].Reason != glasshouse.DeletedByRetention || recs[0].Actor != "system" {
		t.Fatalf("deletion records %+v, want one by retention for %s", recs, old.ID)
	}
}

func testDeletionRecords(t *testing.T, b Backend) {
	created := time.Date(2029, 3, 1, 10, 30, 0, 123456789, time.UTC)
	a := catalogtest.NewAsset("acme", "talk.mp4")
	a.Collection, a.Size, a.Created = "talks", 4321, created
	a.Probe = &glasshouse.ProbeInfo{DurationMS: 90500}
	must(t, b.CreateAsset(ctx, a, nil, ev("acme", "upload", string(a.ID), nil)))
	c := asset(t, b, "acme", "news", "c.jpg", 77, created.Add(time.Hour))
	d := asset(t, b, "beta", "news", "d.jpg", 5, created)

	before := time.Now().Add(-time.Second)
	if _, err := b.DeleteAsset(ctx, "acme", a.ID, deleteEv("acme", a, glasshouse.DeletedByUser)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.DeleteAsset(ctx, "acme", c.ID, deleteEv("acme", c, glasshouse.DeletedByRetention)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.DeleteAsset(ctx, "beta", d.ID, deleteEv("beta", d, glasshouse.DeletedByUser)); err != nil {
		t.Fatal(err)
	}
	// Missing and another tenant's assets: ErrNotExist, no record.
	_, err := b.DeleteAsset(ctx, "acme", d.ID, deleteEv("acme", d, glasshouse.DeletedByUser))
	wantKind(t, "delete a deleted asset", err, glasshouse.ErrNotExist)
	after := time.Now().Add(time.Second)

	evs := wantEvents(t, b, "acme", "delete", 2)
	recs, err := b.DeletionRecords(ctx, "acme", before, after)
	must(t, err)
	if len(recs) != 2 {
		t.Fatalf("deletion records %+v, want 2", recs)
	}
	r := recs[0]
	want := glasshouse.DeletionRecord{ID: r.ID, Tenant: "acme", Asset: a.ID, Name: "talk.mp4", Hash: a.Hash, Size: 4321, Kind: glasshouse.KindVideo,
		Collection: "talks", DurationMS: 90500, Created: created, Deleted: evs[0].Time, Actor: "tester", Reason: glasshouse.DeletedByUser, AuditSeq: evs[0].Seq}
	if !reflect.DeepEqual(r, want) || !r.Created.Equal(created) {
		t.Errorf("record\n got %+v\nwant %+v", r, want)
	}
	r = recs[1]
	if r.Asset != c.ID || r.Reason != glasshouse.DeletedByRetention || r.Actor != "system" || r.AuditSeq != evs[1].Seq ||
		!r.Deleted.Equal(evs[1].Time) || r.Size != 77 || r.Collection != "news" || r.DurationMS != 0 || r.ID <= recs[0].ID {
		t.Errorf("retention record %+v (event %+v)", r, evs[1])
	}
	// The time range is [from, to) on the deletion time.
	for _, tc := range []struct {
		from, to time.Time
		n        int
	}{
		{evs[0].Time, evs[1].Time, 1},
		{evs[0].Time, evs[1].Time.Add(time.Nanosecond), 2},
		{evs[0].Time.Add(time.Nanosecond), after, 1},
		{after, after.Add(day), 0},
		{time.Time{}, before, 0},
	} {
		recs, err := b.DeletionRecords(ctx, "acme", tc.from, tc.to)
		must(t, err)
		if len(recs) != tc.n {
			t.Errorf("DeletionRecords [%v, %v): %d, want %d", tc.from, tc.to, len(recs), tc.n)
		}
	}
	recs, err = b.DeletionRecords(ctx, "beta", before, after)
	must(t, err)
	if len(recs) != 1 || recs[0].Asset != d.ID || recs[0].Tenant != "beta" {
		t.Errorf("beta's records %+v", recs)
	}
	recs, err = b.DeletionRecords(ctx, "gamma", before, after)
	must(t, err)
	if recs == nil || len(recs) != 0 {
		t.Errorf("records of a tenant without deletions: %#v, want empty non-nil", recs)
	}
}

func testPolicy(t *testing.T, b Backend) {
	p, err := b.Policy(ctx, "acme")
	must(t, err)
	if p.Tenant != "acme" || p.QuotaBytes != 0 || p.Analyzers != nil || !p.AllowsAnalyzer("ocr") {
		t.Fatalf("default policy %+v, want no quota and every analyzer", p)
	}
	before := time.Now().Add(-time.Second)
	must(t, b.SetPolicy(ctx, &glasshouse.Policy{Tenant: "acme", QuotaBytes: 5000, Analyzers: []string{"probe", "ocr"}, SetBy: "op"},
		ev("acme", "policy_set", "acme", nil)))
	p, err = b.Policy(ctx, "acme")
	must(t, err)
	if p.QuotaBytes != 5000 || !reflect.DeepEqual(p.Analyzers, []string{"probe", "ocr"}) || p.SetBy != "op" ||
		p.Updated.Before(before) || p.Updated.After(time.Now().Add(time.Second)) {
		t.Fatalf("policy %+v", p)
	}
	if !p.AllowsAnalyzer("ocr") || p.AllowsAnalyzer("speech") {
		t.Fatalf("policy %+v allows the wrong analyzers", p)
	}
	// An empty list: no analyzer at all (not "all").
	must(t, b.SetPolicy(ctx, &glasshouse.Policy{Tenant: "acme", QuotaBytes: 5000, Analyzers: []string{}}, ev("acme", "policy_set", "acme", nil)))
	p, err = b.Policy(ctx, "acme")
	must(t, err)
	if p.Analyzers == nil || len(p.Analyzers) != 0 || p.AllowsAnalyzer("probe") {
		t.Fatalf("policy with no analyzers allowed: %+v", p)
	}
	// nil: all again; quota 0: none.
	must(t, b.SetPolicy(ctx, &glasshouse.Policy{Tenant: "acme", QuotaBytes: 0, Analyzers: nil}, ev("acme", "policy_set", "acme", nil)))
	p, err = b.Policy(ctx, "acme")
	must(t, err)
	if p.Analyzers != nil || p.QuotaBytes != 0 || !p.AllowsAnalyzer("speech") {
		t.Fatalf("policy reset: %+v", p)
	}
	wantKind(t, "negative quota", b.SetPolicy(ctx, &glasshouse.Policy{Tenant: "acme", QuotaBytes: -1}, ev("acme", "policy_set", "acme", nil)), glasshouse.ErrInvalid)
	wantKind(t, "no tenant", b.SetPolicy(ctx, &glasshouse.Policy{QuotaBytes: 1}, ev("acme", "policy_set", "acme", nil)), glasshouse.ErrInvalid)
	wantEvents(t, b, "acme", "policy_set", 3)
	if p, _ := b.Policy(ctx, "beta"); p.QuotaBytes != 0 || p.Analyzers != nil {
		t.Fatalf("beta's policy %+v changed with acme's", p)
	}
}

func setQuota(t *testing.T, b Backend, tenant glasshouse.TenantID, q int64) {
	t.Helper()
	must(t, b.SetPolicy(ctx, &glasshouse.Policy{Tenant: tenant, QuotaBytes: q}, ev(tenant, "policy_set", string(tenant), nil)))
}

func testQuota(t *testing.T, b Backend) {
	setQuota(t, b, "acme", 3000)
	setQuota(t, b, "beta", 100)
	a1 := asset(t, b, "acme", "", "a1", 1000, time.Time{})
	asset(t, b, "acme", "", "a2", 1500, time.Time{})
	over := catalogtest.NewAsset("acme", "over")
	over.Size = 501
	job := glasshouse.Job{Kind: "probe", Version: "1"}
	err := b.CreateAsset(ctx, over, []glasshouse.Job{job}, ev("acme", "upload", string(over.ID), nil))
	wantKind(t, "create over quota", err, glasshouse.ErrQuota)
	if !strings.Contains(err.Error(), "3000") {
		t.Errorf("quota error %q does not name the quota", err)
	}
	if assetExists(t, b, "acme", over.ID) {
		t.Fatal("over-quota asset was stored")
	}
	wantEvents(t, b, "acme", "upload", 2)
	if q, ok := b.(glasshouse.Queue); ok {
		if js, err := q.Jobs(ctx, "acme", over.ID); err != nil || len(js) != 0 {
			t.Fatalf("over-quota create left jobs %+v (%v)", js, err)
		}
	}
	// Exactly up to the quota is allowed.
	asset(t, b, "acme", "", "a3", 500, time.Time{})
	one := catalogtest.NewAsset("acme", "one")
	one.Size = 1
	wantKind(t, "one byte over a full quota", b.CreateAsset(ctx, one, nil, ev("acme", "upload", "", nil)), glasshouse.ErrQuota)
	// Another tenant's quota is its own; a tenant without policy has none.
	asset(t, b, "beta", "", "b1", 100, time.Time{})
	asset(t, b, "gamma", "", "g1", 1<<40, time.Time{})
	// Deleting frees space; raising the quota too.
	if _, err := b.DeleteAsset(ctx, "acme", a1.ID, deleteEv("acme", a1, glasshouse.DeletedByUser)); err != nil {
		t.Fatal(err)
	}
	asset(t, b, "acme", "", "a4", 1000, time.Time{})
	wantKind(t, "full again", b.CreateAsset(ctx, one, nil, ev("acme", "upload", "", nil)), glasshouse.ErrQuota)
	setQuota(t, b, "acme", 0)
	asset(t, b, "acme", "", "a5", 1<<40, time.Time{})
	// A quota set when the tenant already stores assets counts them.
	asset(t, b, "delta", "", "d1", 100, time.Time{})
	asset(t, b, "delta", "", "d2", 30, time.Time{})
	setQuota(t, b, "delta", 180)
	d3 := catalogtest.NewAsset("delta", "d3")
	d3.Size = 51
	wantKind(t, "over a quota set after uploads", b.CreateAsset(ctx, d3, nil, ev("delta", "upload", "", nil)), glasshouse.ErrQuota)
	asset(t, b, "delta", "", "d4", 50, time.Time{})
}

// testQuotaConcurrent: uploads racing for the last of a quota; exactly as
// many pass as fit.
func testQuotaConcurrent(t *testing.T, b Backend) {
	const size, fit, n = 100, 7, 24
	setQuota(t, b, "acme", size*fit+size/2)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, quota := 0, 0
	var other []error
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			a := catalogtest.NewAsset("acme", fmt.Sprintf("race-%d", i))
			a.Size = size
			<-start
			err := b.CreateAsset(ctx, a, nil, ev("acme", "upload", string(a.ID), nil))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, glasshouse.ErrQuota):
				quota++
			default:
				other = append(other, err)
			}
		}(i)
	}
	close(start)
	wg.Wait()
	if len(other) > 0 {
		t.Fatalf("concurrent creates failed otherwise: %v", other)
	}
	if ok != fit || quota != n-fit {
		t.Fatalf("%d creates passed and %d were over quota; want %d and %d", ok, quota, fit, n-fit)
	}
	u, err := b.UsageReport(ctx, "acme", time.Now(), time.Now())
	must(t, err)
	var stored int64
	for _, k := range u.Kinds {
		stored += k.Bytes
	}
	if stored != size*fit {
		t.Fatalf("stored %d bytes, want %d", stored, size*fit)
	}
}

func testUsage(t *testing.T, b Backend) {
	today := time.Now().UTC().Truncate(day)
	mid := today.Add(12 * time.Hour)
	// acme: a video stored 3 days ago (1 h long), deleted today; a video
	// 2 days ago (30 min); an image yesterday.
	v1 := catalogtest.NewAsset("acme", "v1")
	v1.Size, v1.Created, v1.Probe = 100, mid.Add(-3*day), &glasshouse.ProbeInfo{DurationMS: 3600000}
	must(t, b.CreateAsset(ctx, v1, nil, ev("acme", "upload", string(v1.ID), nil)))
	v2 := catalogtest.NewAsset("acme", "v2")
	v2.Size, v2.Created, v2.Probe = 200, mid.Add(-2*day), &glasshouse.ProbeInfo{DurationMS: 1800000}
	must(t, b.CreateAsset(ctx, v2, nil, ev("acme", "upload", string(v2.ID), nil)))
	img := catalogtest.NewAsset("acme", "i1")
	img.Kind, img.MediaType, img.Size, img.Created = glasshouse.KindImage, "image/png", 50, mid.Add(-day)
	must(t, b.CreateAsset(ctx, img, nil, ev("acme", "upload", string(img.ID), nil)))
	if _, err := b.DeleteAsset(ctx, "acme", v1.ID, deleteEv("acme", v1, glasshouse.DeletedByUser)); err != nil {
		t.Fatal(err)
	}
	for _, e := range []glasshouse.AuditEvent{
		ev("acme", "analyze", string(v2.ID), map[string]any{"analyzer": "probe"}),
		ev("acme", "analyze", string(img.ID), map[string]any{"analyzer": "probe"}),
		ev("acme", "analyze", string(img.ID), map[string]any{"analyzer": "ocr"}),
		ev("acme", "search", "", map[string]any{"q": "x"}),
		ev("acme", "export", "", nil),
		ev("acme", "export", "", nil),
		ev("acme", "asset_read", "", nil), // not counted
		// beta's activity is not acme's.
		ev("beta", "analyze", "", map[string]any{"analyzer": "probe"}),
		ev("beta", "search", "", nil),
	} {
		_, err := b.Append(ctx, e)
		must(t, err)
	}
	b1 := catalogtest.NewAsset("beta", "b1")
	b1.Size, b1.Created = 1000, mid.Add(-3*day)
	must(t, b.CreateAsset(ctx, b1, nil, ev("beta", "upload", string(b1.ID), nil)))

	u, err := b.UsageReport(ctx, "acme", today.Add(-4*day), today)
	must(t, err)
	if time.Now().UTC().Truncate(day) != today {
		t.Skip("the test ran across UTC midnight; today's figures moved")
	}
	dayStr := func(d int) string { return today.Add(time.Duration(d) * day).Format(time.DateOnly) }
	var wantStored []glasshouse.DayBytes
	for i, n := range []int64{0, 100, 300, 350, 250} {
		wantStored = append(wantStored, glasshouse.DayBytes{Day: dayStr(i - 4), Bytes: n})
	}
	if u.Tenant != "acme" || u.From != dayStr(-4) || u.To != dayStr(0) {
		t.Errorf("report header %s %s..%s", u.Tenant, u.From, u.To)
	}
	if !reflect.DeepEqual(u.StoredBytes, wantStored) {
		t.Errorf("stored bytes %+v, want %+v", u.StoredBytes, wantStored)
	}
	if len(u.Kinds) != 2 || u.Kinds[0] != (glasshouse.KindUsage{Kind: glasshouse.KindImage, Assets: 1, Bytes: 50}) ||
		u.Kinds[1].Kind != glasshouse.KindVideo || u.Kinds[1].Assets != 1 || u.Kinds[1].Bytes != 200 || math.Abs(u.Kinds[1].MediaHours-0.5) > 1e-9 {
		t.Errorf("kinds %+v", u.Kinds)
	}
	if !reflect.DeepEqual(u.Analyses, map[string]int{"probe": 2, "ocr": 1}) || u.Searches != 1 || u.Exports != 2 || u.Uploads != 3 || u.Deletions != 1 {
		t.Errorf("counts: analyses %v searches %d exports %d uploads %d deletions %d; want probe 2, ocr 1, 1, 2, 3, 1",
			u.Analyses, u.Searches, u.Exports, u.Uploads, u.Deletions)
	}
	// A period before today counts no events (they all happened today)
	// and ends at that day's stored bytes.
	u, err = b.UsageReport(ctx, "acme", today.Add(-2*day), today.Add(-day))
	must(t, err)
	if len(u.Analyses) != 0 || u.Uploads != 0 || u.Searches != 0 || len(u.StoredBytes) != 2 || u.StoredBytes[1].Bytes != 350 {
		t.Errorf("report of the two days before today: %+v", u)
	}
	// All tenants together.
	u, err = b.UsageReport(ctx, "", today.Add(-4*day), today)
	must(t, err)
	if u.Tenant != "" || u.StoredBytes[1].Bytes != 1100 || u.StoredBytes[4].Bytes != 1250 || u.Analyses["probe"] != 3 || u.Searches != 2 || u.Uploads != 4 {
		t.Errorf("all-tenants report %+v", u)
	}
	u, err = b.UsageReport(ctx, "nobody", today, today)
	must(t, err)
	if len(u.StoredBytes) != 1 || u.StoredBytes[0].Bytes != 0 || len(u.Kinds) != 0 || u.Kinds == nil || len(u.Analyses) != 0 || u.Analyses == nil {
		t.Errorf("report of a tenant without anything: %+v", u)
	}
	_, err = b.UsageReport(ctx, "acme", today, today.Add(-day))
	wantKind(t, "to before from", err, glasshouse.ErrInvalid)
	_, err = b.UsageReport(ctx, "acme", today.Add(-4000*day), today)
	wantKind(t, "period over ten years", err, glasshouse.ErrInvalid)

	ts, err := b.Tenants(ctx)
	must(t, err)
	if !reflect.DeepEqual(ts, []glasshouse.TenantID{"acme", "beta"}) {
		t.Errorf("Tenants %v, want [acme beta]", ts)
	}
}

// testTenantIsolation: nothing one tenant sets reaches or changes another's.
func testTenantIsolation(t *testing.T, b Backend) {
	a := asset(t, b, "acme", "news", "a", 10, time.Now().Add(-10*day))
	bb := asset(t, b, "beta", "news", "b", 10, time.Now().Add(-10*day))
	must(t, b.SetRetention(ctx, glasshouse.RetentionRule{Tenant: "acme", Collection: "news", Days: 5}, ev("acme", "retention_set", "", nil)))
	must(t, b.SetHold(ctx, glasshouse.Hold{Tenant: "acme", Scope: glasshouse.HoldCollection, Target: "news", Reason: "r"}, ev("acme", "hold_set", "", nil)))
	must(t, b.SetHold(ctx, glasshouse.Hold{Tenant: "acme", Scope: glasshouse.HoldAsset, Target: string(a.ID), Reason: "r"}, ev("acme", "hold_set", "", nil)))
	setQuota(t, b, "acme", 10)

	// beta cannot see, release or delete acme's.
	if rs, _ := b.RetentionRules(ctx, "beta"); len(rs) != 0 {
		t.Errorf("beta sees rules %+v", rs)
	}
	if hs, _ := b.Holds(ctx, "beta"); len(hs) != 0 {
		t.Errorf("beta sees holds %+v", hs)
	}
	wantKind(t, "beta deletes acme's rule", b.DeleteRetention(ctx, "beta", false, "news", ev("beta", "retention_delete", "", nil)), glasshouse.ErrNotExist)
	wantKind(t, "beta releases acme's collection hold", b.ReleaseHold(ctx, "beta", glasshouse.HoldCollection, "news", ev("beta", "hold_release", "", nil)), glasshouse.ErrNotExist)
	wantKind(t, "beta releases acme's asset hold", b.ReleaseHold(ctx, "beta", glasshouse.HoldAsset, string(a.ID), ev("beta", "hold_release", "", nil)), glasshouse.ErrNotExist)
	wantKind(t, "beta holds acme's asset", b.SetHold(ctx, glasshouse.Hold{Tenant: "beta", Scope: glasshouse.HoldAsset, Target: string(a.ID), Reason: "r"}, ev("beta", "hold_set", "", nil)), glasshouse.ErrNotExist)
	_, err := b.DeleteAsset(ctx, "beta", a.ID, deleteEv("beta", a, glasshouse.DeletedByUser))
	wantKind(t, "beta deletes acme's asset", err, glasshouse.ErrNotExist)
	if hs, _ := b.Holds(ctx, "acme"); len(hs) != 2 {
		t.Errorf("acme's holds after beta's attempts: %+v", hs)
	}
	if rs, _ := b.RetentionRules(ctx, "acme"); len(rs) != 1 {
		t.Errorf("acme's rules after beta's attempts: %+v", rs)
	}
	// acme's rule does not make beta's asset due; acme's quota does not
	// limit beta; acme's hold does not block beta.
	due, err := b.DueAssets(ctx, time.Now())
	must(t, err)
	if len(due) != 1 || due[0].ID != a.ID || due[0].Tenant != "acme" {
		t.Errorf("due %+v, want only acme's asset", due)
	}
	asset(t, b, "beta", "news", "b2", 1000, time.Time{})
	if _, err := b.DeleteAsset(ctx, "beta", bb.ID, deleteEv("beta", bb, glasshouse.DeletedByUser)); err != nil {
		t.Fatalf("beta's delete blocked by acme's hold: %v", err)
	}
	recs, err := b.DeletionRecords(ctx, "acme", time.Time{}, time.Now().Add(day))
	must(t, err)
	if len(recs) != 0 {
		t.Errorf("acme sees beta's deletion records %+v", recs)
	}
	if p, _ := b.Policy(ctx, "beta"); p.QuotaBytes != 0 {
		t.Errorf("beta's policy %+v", p)
	}
	// Every governance write of acme is in acme's audit trail, none in beta's.
	for _, action := range []string{"retention_set", "hold_set", "policy_set"} {
		if n := len(events(t, b, "beta", action)); n != 0 {
			t.Errorf("beta has %d %s events", n, action)
		}
	}
	wantEvents(t, b, "acme", "hold_set", 2)
	wantEvents(t, b, "acme", "retention_set", 1)
	wantEvents(t, b, "acme", "policy_set", 1)
}

// testHoldRacesDeletes: a collection hold placed while its assets are being
// deleted. Every delete either commits before the hold (its audit event
// comes first in the chain) or is refused; none commits after it.
func testHoldRacesDeletes(t *testing.T, b Backend) {
	const n = 16
	var as []*glasshouse.Asset
	for i := 0; i < n; i++ {
		as = append(as, asset(t, b, "acme", "evidence", fmt.Sprintf("e%d", i), 10, time.Time{}))
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, n+1)
	for i, a := range as {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = b.DeleteAsset(ctx, "acme", a.ID, deleteEv("acme", a, glasshouse.DeletedByUser))
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		errs[n] = b.SetHold(ctx, glasshouse.Hold{Tenant: "acme", Scope: glasshouse.HoldCollection, Target: "evidence", Reason: "race"},
			ev("acme", "hold_set", "evidence", nil))
	}()
	close(start)
	wg.Wait()
	must(t, errs[n])
	for i, err := range errs[:n] {
		if err != nil && !errors.Is(err, glasshouse.ErrConflict) {
			t.Fatalf("delete %d: %v", i, err)
		}
	}
	hold := wantEvents(t, b, "acme", "hold_set", 1)[0]
	recs, err := b.DeletionRecords(ctx, "acme", time.Time{}, time.Now().Add(day))
	must(t, err)
	deleted := map[glasshouse.AssetID]bool{}
	for _, r := range recs {
		deleted[r.Asset] = true
		if r.AuditSeq > hold.Seq {
			t.Errorf("asset %s was deleted (event %d) after the collection hold was placed (event %d)", r.Asset, r.AuditSeq, hold.Seq)
		}
	}
	for i, a := range as {
		if deleted[a.ID] == assetExists(t, b, "acme", a.ID) || deleted[a.ID] != (errs[i] == nil) {
			t.Errorf("asset %s: deleted record %v, delete error %v, still stored %v", a.Name, deleted[a.ID], errs[i], assetExists(t, b, "acme", a.ID))
		}
	}
	t.Logf("%d of %d deletes committed before the hold", len(recs), n)
}
