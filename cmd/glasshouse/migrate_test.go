package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/analyze/probe"
	"github.com/glasshouse/glasshouse/analyze/shots"
	"github.com/glasshouse/glasshouse/app"
	"github.com/glasshouse/glasshouse/audit"
	"github.com/glasshouse/glasshouse/auth"
	"github.com/glasshouse/glasshouse/internal/pgtest"
	"github.com/glasshouse/glasshouse/internal/s3test"
	"github.com/glasshouse/glasshouse/media"
	"github.com/glasshouse/glasshouse/redact"
	"github.com/glasshouse/glasshouse/search"
)

// TestMigrate fills an embedded data folder (assets of two tenants, analyzer
// results with keyframe blobs, a deletion, searches: a varied audit chain;
// retention rules, legal holds, a policy), migrates it to PostgreSQL + S3,
// and checks that every asset, result, blob, audit event and governance
// record arrived (and the usage figures are the same), the chain verifies with the same head, search
// works on the target, and a second migrate into the filled target is
// refused.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	makeBadAndGoodFiles(t, dir)
	log := slog.New(slog.DiscardHandler)
	ans := []glasshouse.Analyzer{probe.New(media.Limits{}), shots.New(media.Limits{}, shots.Options{})}
	src, err := app.Open(ctx, app.Config{DataDir: data, Analyzers: ans, Logger: log,
		Redactor: redact.NewRenderer(redact.Config{Limits: media.Limits{Timeout: 2 * time.Minute}})})
	must(t, err)
	users := []glasshouse.Actor{{Tenant: "default", User: "ann"}, {Tenant: "acme", User: "bob"}}
	var ids []glasshouse.AssetID
	for i, name := range []string{"clip.mp4", "still.png", "tone.wav"} {
		for _, u := range users {
			f, err := os.Open(filepath.Join(dir, name))
			must(t, err)
			as, _, err := src.Ingest(ctx, u, name, "c"+string(rune('a'+i)), f)
			f.Close()
			must(t, err)
			ids = append(ids, as.ID)
		}
	}
	must(t, src.RunPending(ctx))
	if _, err := src.Search(ctx, users[0], search.Query{Text: "clip"}); err != nil {
		t.Fatal(err)
	}
	must(t, src.DeleteAsset(ctx, users[1], ids[len(ids)-1]))
	ids = ids[:len(ids)-1]
	// A saved redaction plan and a finished render of acme's still (ids[3]):
	// plan, render and the redacted copy (an asset, its blob) must arrive.
	plan, err := src.RedactionPlan(ctx, users[1], ids[3])
	must(t, err)
	plan.Faces = false
	plan.Regions = append(plan.Regions, redact.Region{Kind: redact.KindManual, Box: glasshouse.Box{X: 0.25, Y: 0.25, W: 0.25, H: 0.25}, Label: "plate"})
	plan, err = src.SaveRedactionPlan(ctx, users[1], ids[3], plan)
	must(t, err)
	render, err := src.RedactNow(ctx, users[1], ids[3], nil, nil)
	must(t, err)
	if render.State != redact.StateDone || render.Output == "" || len(render.Manifest) == 0 {
		t.Fatalf("render in the source: %+v", render)
	}
	ids = append(ids, render.Output)
	must(t, src.RunPending(ctx)) // the redacted copy's analyses
	// An account to carry over (its creation is in the audit chain too).
	now := time.Now().UTC()
	must(t, src.DB().CreateTenant(ctx, auth.Tenant{ID: "acme", Name: "Acme", Created: now},
		glasshouse.NewEvent(glasshouse.System("acme"), "tenant.create", "acme", nil)))
	must(t, src.DB().CreateUser(ctx, auth.User{Name: "Bob", Tenant: "acme", Role: auth.Editor, PasswordHash: "x", Created: now},
		glasshouse.NewEvent(glasshouse.System("acme"), "user.create", "Bob", nil)))
	// Governance to carry over: retention rules (per collection and
	// tenant-wide), legal holds (collection and asset), a tenant policy;
	// the deletion above left a deletion record.
	_, err = src.SetRetention(ctx, users[0], glasshouse.RetentionRule{Collection: "ca", Days: 90})
	must(t, err)
	_, err = src.SetRetention(ctx, users[1], glasshouse.RetentionRule{All: true, Days: 3650})
	must(t, err)
	_, err = src.SetHold(ctx, users[0], glasshouse.HoldCollection, "cb", "case 17")
	must(t, err)
	_, err = src.SetHold(ctx, users[1], glasshouse.HoldAsset, string(ids[1]), "case 18")
	must(t, err)
	// The quota leaves 10 bytes: the target must count what is stored.
	today := time.Now().UTC().Truncate(24 * time.Hour)
	du, err := src.DB().UsageReport(ctx, "default", today, today)
	must(t, err)
	_, err = src.SetPolicy(ctx, glasshouse.Actor{User: "op"}, glasshouse.Policy{Tenant: "default", QuotaBytes: du.StoredBytes[0].Bytes + 10, Analyzers: []string{"probe"}})
	must(t, err)
	govTenants := []glasshouse.TenantID{"acme", "default"}
	wantGov, err := readGovernance(ctx, src.DB(), govTenants)
	must(t, err)
	if len(wantGov.rules) != 2 || len(wantGov.holds) != 2 || len(wantGov.deletions) != 1 || len(wantGov.policies) != 1 {
		t.Fatalf("source governance: %s", wantGov)
	}
	wantUsage := map[glasshouse.TenantID]*glasshouse.Usage{}
	for _, tn := range []glasshouse.TenantID{"", "acme", "default"} {
		u, err := src.DB().UsageReport(ctx, tn, today.Add(-7*24*time.Hour), today)
		must(t, err)
		wantUsage[tn] = u
	}
	srcRep, err := audit.Verify(ctx, audit.LogSource{Log: src.DB()})
	must(t, err)
	type snap struct {
		asset   *glasshouse.Asset
		results []*glasshouse.Result
	}
	want := map[glasshouse.AssetID]snap{}
	for _, id := range ids {
		for _, u := range users {
			a, err := src.DB().GetAsset(ctx, u.Tenant, id)
			if err != nil {
				continue
			}
			rs, err := src.DB().Results(ctx, u.Tenant, id)
			must(t, err)
			want[id] = snap{a, rs}
		}
	}
	must(t, src.Close())
	if len(want) != 6 {
		t.Fatalf("source holds %d assets, want 6", len(want))
	}

	dsn := pgtest.NewDB(t)
	bucket := s3test.NewBucketURL(t)
	out, errOut, code := runCLI(t, "migrate", "--data", data, "--to-db", dsn, "--to-blobs", bucket)
	if code != 0 {
		t.Fatalf("migrate: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, srcRep.Head) {
		t.Errorf("migrate output %q lacks the source chain head %s", out, srcRep.Head)
	}

	dst, err := app.Open(ctx, app.Config{DataDir: filepath.Join(dir, "dst"), DBURL: dsn, BlobsURL: bucket, Logger: log})
	must(t, err)
	defer dst.Close()
	rep, err := audit.Verify(ctx, audit.LogSource{Log: dst.DB()})
	must(t, err)
	if !rep.OK || rep.Head != srcRep.Head || rep.Events != srcRep.Events {
		t.Fatalf("target chain %+v, source %+v", rep, srcRep)
	}
	// The same usage figures (before anything is done on the target).
	for tn, w := range wantUsage {
		u, err := dst.DB().UsageReport(ctx, tn, today.Add(-7*24*time.Hour), today)
		must(t, err)
		if !reflect.DeepEqual(u, w) {
			t.Errorf("usage of %q after migration:\n got %+v\nwant %+v", tn, u, w)
		}
	}
	for id, w := range want {
		a, err := dst.DB().GetAsset(ctx, w.asset.Tenant, id)
		if err != nil {
			t.Fatalf("asset %s missing: %v", id, err)
		}
		if a.Hash != w.asset.Hash || a.Name != w.asset.Name || !a.Created.Equal(w.asset.Created) || a.Thumb != w.asset.Thumb || len(a.Runs) != len(w.asset.Runs) {
			t.Errorf("asset %s: %+v, want %+v", id, a, w.asset)
		}
		rs, err := dst.DB().Results(ctx, w.asset.Tenant, id)
		must(t, err)
		if len(rs) != len(w.results) {
			t.Fatalf("asset %s: %d results, want %d", id, len(rs), len(w.results))
		}
		refs := []glasshouse.Ref{a.Hash, a.Thumb}
		for i, r := range rs {
			if r.Run.Name != w.results[i].Run.Name || len(r.Insights.Keyframes) != len(w.results[i].Insights.Keyframes) || len(r.Insights.Shots) != len(w.results[i].Insights.Shots) {
				t.Errorf("asset %s result %s differs", id, r.Run.Name)
			}
			for _, k := range r.Insights.Keyframes {
				refs = append(refs, k.Image, k.Thumb)
			}
		}
		// Every blob is in S3 and hashes to its ref.
		for _, ref := range refs {
			if ref == "" {
				continue
			}
			rc, err := dst.Blobs().Open(ctx, ref, 0, -1)
			if err != nil {
				t.Fatalf("blob %s of %s: %v", ref, id, err)
			}
			h := sha256.New()
			io.Copy(h, rc)
			rc.Close()
			if glasshouse.RefFromSum(h.Sum(nil)) != ref {
				t.Errorf("blob %s arrived corrupt", ref)
			}
		}
		js, err := dst.DB().Jobs(ctx, w.asset.Tenant, id)
		must(t, err)
		for _, j := range js {
			if j.State != glasshouse.JobDone {
				t.Errorf("asset %s job %s is %s after migration, want done", id, j.Kind, j.State)
			}
		}
	}
	// The redaction plan and render, verbatim; the redacted copy's blob is in S3.
	gotPlan, err := dst.RedactionPlan(ctx, users[1], ids[3])
	must(t, err)
	if gotPlan.Revision != plan.Revision || !gotPlan.Updated.Equal(plan.Updated) || len(gotPlan.Regions) != len(plan.Regions) || gotPlan.Regions[len(gotPlan.Regions)-1].Label != "plate" {
		t.Errorf("plan after migration: %+v, want %+v", gotPlan, plan)
	}
	gotRender, err := dst.Redaction(ctx, users[1], render.ID)
	must(t, err)
	if gotRender.State != redact.StateDone || gotRender.Output != render.Output || gotRender.OutputHash != render.OutputHash ||
		string(gotRender.Manifest) != string(render.Manifest) || !gotRender.Created.Equal(render.Created) || gotRender.Requester != render.Requester {
		t.Errorf("render after migration: %+v, want %+v", gotRender, render)
	}
	if list, err := dst.Redactions(ctx, users[1], ids[3]); err != nil || len(list) != 1 || list[0].ID != render.ID {
		t.Errorf("renders of the source after migration: %d (%v)", len(list), err)
	}
	if _, err := dst.Redaction(ctx, users[0], render.ID); err == nil {
		t.Error("another tenant reads the render after migration")
	}
	c, err := dst.Blobs().Open(ctx, render.OutputHash, 0, -1)
	must(t, err)
	h := sha256.New()
	io.Copy(h, c)
	c.Close()
	if glasshouse.RefFromSum(h.Sum(nil)) != render.OutputHash {
		t.Errorf("redacted copy's blob arrived as %x, want %s", h.Sum(nil), render.OutputHash)
	}
	if u, err := dst.DB().GetUser(ctx, "bob"); err != nil || u.Tenant != "acme" || u.Role != auth.Editor || u.PasswordHash != "x" {
		t.Errorf("user after migration: %+v %v", u, err)
	}
	hits, err := dst.Search(ctx, users[0], search.Query{Text: "clip"})
	must(t, err)
	if hits.Total != 1 {
		t.Errorf("search on the target found %d assets, want 1", hits.Total)
	}
	// Governance arrived: the same rules, holds, deletion records and
	// policy; the holds still block deletes, and
	// new deletion records continue after the copied ones.
	gotGov, err := readGovernance(ctx, dst.DB(), govTenants)
	must(t, err)
	if !reflect.DeepEqual(gotGov, wantGov) {
		t.Errorf("governance after migration:\n got %+v\nwant %+v", gotGov, wantGov)
	}
	if err := dst.DeleteAsset(ctx, users[1], ids[1]); !errors.Is(err, glasshouse.ErrConflict) {
		t.Errorf("delete of an asset under a migrated asset hold: %v, want conflict", err)
	}
	if err := dst.DeleteAsset(ctx, users[0], ids[2]); !errors.Is(err, glasshouse.ErrConflict) {
		t.Errorf("delete of an asset in a migrated collection hold: %v, want conflict", err)
	}
	// The migrated quota counts the migrated assets: full until one goes.
	ingestFile := func() error {
		f, err := os.Open(filepath.Join(dir, "still.png"))
		must(t, err)
		defer f.Close()
		_, _, err = dst.Ingest(ctx, users[0], "still.png", "new", f)
		return err
	}
	if err := ingestFile(); !errors.Is(err, glasshouse.ErrQuota) {
		t.Errorf("upload over the migrated quota: %v, want quota exceeded", err)
	}
	must(t, dst.DeleteAsset(ctx, users[0], ids[4]))
	if err := ingestFile(); err != nil {
		t.Errorf("upload after a delete freed space under the migrated quota: %v", err)
	}
	recs, err := dst.DB().DeletionRecords(ctx, "default", time.Time{}, time.Now().Add(time.Hour))
	must(t, err)
	if len(recs) != 1 || recs[0].Asset != ids[4] || recs[0].ID <= wantGov.deletions[0].ID {
		t.Errorf("deletion records on the target after a new delete: %+v (copied id %d)", recs, wantGov.deletions[0].ID)
	}
	if _, _, code := runCLI(t, "migrate", "--data", data, "--to-db", dsn, "--to-blobs", bucket); code == 0 {
		t.Error("a second migrate into a filled target succeeded")
	}
}
