package main

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/app"
	"github.com/glasshouse/glasshouse/audit"
	"github.com/glasshouse/glasshouse/auth"
	"github.com/glasshouse/glasshouse/blobstore"
	"github.com/glasshouse/glasshouse/postgres"
	"github.com/glasshouse/glasshouse/redact"
	"github.com/glasshouse/glasshouse/search"
	"github.com/glasshouse/glasshouse/search/pgsearch"
	"github.com/glasshouse/glasshouse/sqlite"
)

// cmdMigrate copies an embedded data folder (SQLite + file blobs) to
// PostgreSQL + an object store: every blob (re-hashed on the way), every
// asset with its results, runs and jobs, redaction plans and renders, the audit chain event by event
// (same sequence numbers, times and hashes, so it verifies unchanged), and
// rebuilds the search index; tenants, users and API tokens are copied too
// (sessions are not: users sign in again), and so are retention rules,
// legal holds, deletion records and tenant policies. The target must be empty; the source is only
// read. Stop the embedded server first.
func cmdMigrate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "migrate", "--to-db postgres://... --to-blobs s3://... [--data DIR]")
	data := fs.String("data", envOr("GLASSHOUSE_DATA", "glasshouse-data"), "embedded data folder to copy")
	toDB := fs.String("to-db", "", "target PostgreSQL URL (postgres://...)")
	toBlobs := fs.String("to-blobs", "", "target blob store URL (s3://..., gs://..., azblob://...)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !app.IsPostgres(*toDB) || *toBlobs == "" {
		fs.Usage()
		return exitError{code: 2}
	}
	dir, _ := filepath.Abs(*data)
	src, err := sqlite.Open(ctx, "sqlite://"+filepath.Join(dir, "glasshouse.db"), e.log)
	if err != nil {
		return fmt.Errorf("migrate: source database: %w", err)
	}
	defer src.Close()
	srcBlobs, err := blobstore.Open(ctx, "file://"+filepath.Join(dir, "blobs"), e.log)
	if err != nil {
		return fmt.Errorf("migrate: source blobs: %w", err)
	}
	defer srcBlobs.Close()
	dst, err := postgres.Open(ctx, *toDB, e.log)
	if err != nil {
		return fmt.Errorf("migrate: target database: %w", err)
	}
	defer dst.Close()
	dstBlobs, err := blobstore.Open(ctx, *toBlobs, e.log)
	if err != nil {
		return fmt.Errorf("migrate: target blobs: %w", err)
	}
	defer dstBlobs.Close()
	idx, err := pgsearch.New(ctx, dst.StdDB())
	if err != nil {
		return fmt.Errorf("migrate: target search index: %w", err)
	}
	if n, _, ev, err := dst.ImportCounts(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	} else if n > 0 || ev > 0 {
		return fmt.Errorf("migrate: the target database is not empty (%d assets, %d audit events); migrate into a new database", n, ev)
	}

	// 1. Blobs: streamed and re-hashed; the target computes the ref itself.
	var blobs, bytes int64
	err = srcBlobs.Walk(ctx, func(ref glasshouse.Ref, size int64) error {
		rc, err := srcBlobs.Open(ctx, ref, 0, -1)
		if err != nil {
			return err
		}
		got, n, err := dstBlobs.Put(ctx, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("copy blob %s: %w", ref, err)
		}
		if got != ref || n != size {
			return fmt.Errorf("copy blob %s: arrived as %s (%d bytes, want %d): source corrupt?", ref, got, n, size)
		}
		blobs++
		bytes += n
		if blobs%100 == 0 {
			fmt.Fprintf(e.stderr, "migrate: %d blobs, %d MB copied\n", blobs, bytes>>20)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintf(e.stderr, "migrate: %d blobs (%d MB) copied\n", blobs, bytes>>20)

	// 2. Assets with results, runs and jobs; the index is rebuilt from them.
	rows, err := src.SQL().QueryContext(ctx, `SELECT tenant, id FROM gh_assets ORDER BY created, id`)
	if err != nil {
		return fmt.Errorf("migrate: list assets: %w", err)
	}
	type key struct{ tenant, id string }
	var keys []key
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.tenant, &k.id); err != nil {
			rows.Close()
			return fmt.Errorf("migrate: list assets: %w", err)
		}
		keys = append(keys, k)
	}
	rows.Close()
	nres := 0
	for i, k := range keys {
		t, id := glasshouse.TenantID(k.tenant), glasshouse.AssetID(k.id)
		a, err := src.GetAsset(ctx, t, id)
		if err != nil {
			return fmt.Errorf("migrate: asset %s: %w", id, err)
		}
		res, err := src.Results(ctx, t, id)
		if err != nil {
			return fmt.Errorf("migrate: results of %s: %w", id, err)
		}
		jobs, err := src.Jobs(ctx, t, id)
		if err != nil {
			return fmt.Errorf("migrate: jobs of %s: %w", id, err)
		}
		if err := dst.ImportAsset(ctx, a, res, jobs); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if err := idx.ReplaceAsset(ctx, t, id, search.SourceAsset, search.AssetSegments(a)); err != nil {
			return fmt.Errorf("migrate: index %s: %w", id, err)
		}
		for _, r := range res {
			if err := idx.ReplaceAsset(ctx, t, id, r.Run.Name, search.SegmentsFromInsights(a, r.Run.Name, &r.Insights)); err != nil {
				return fmt.Errorf("migrate: index %s/%s: %w", id, r.Run.Name, err)
			}
		}
		nres += len(res)
		if (i+1)%500 == 0 {
			fmt.Fprintf(e.stderr, "migrate: %d/%d assets\n", i+1, len(keys))
		}
	}
	fmt.Fprintf(e.stderr, "migrate: %d assets, %d results copied and indexed\n", len(keys), nres)

	// 2b. Redaction plans and renders, verbatim. A render's output is an
	// asset of its own (copied above with its blob, as step 1 copies every
	// blob in the store); a render may outlive its source.
	plans, renders, err := readRedactions(ctx, src)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := dst.ImportRedactions(ctx, plans, renders); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintf(e.stderr, "migrate: %d redaction plans, %d renders copied\n", len(plans), len(renders))

	// 3. Accounts: tenants, users, API tokens (not sessions).
	tenants, err := src.ListTenants(ctx)
	if err != nil {
		return fmt.Errorf("migrate: tenants: %w", err)
	}
	var users []auth.User
	var tokens []auth.Token
	for _, tid := range append([]glasshouse.TenantID{""}, tenantIDs(tenants)...) {
		us, err := src.ListUsers(ctx, tid)
		if err != nil {
			return fmt.Errorf("migrate: users of %q: %w", tid, err)
		}
		users = append(users, us...)
		ts, err := src.ListTokens(ctx, tid, "")
		if err != nil {
			return fmt.Errorf("migrate: tokens of %q: %w", tid, err)
		}
		tokens = append(tokens, ts...)
	}
	if err := dst.ImportAccounts(ctx, tenants, users, tokens); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintf(e.stderr, "migrate: %d tenants, %d users, %d API tokens copied\n", len(tenants), len(users), len(tokens))

	// 4. Governance: retention rules, legal holds, deletion records and
	// tenant policies (the usage report is computed from assets, deletion
	// records and the audit log, so it arrives with them).
	govTenants, err := src.Tenants(ctx)
	if err != nil {
		return fmt.Errorf("migrate: tenants: %w", err)
	}
	govTenants = append(govTenants, glasshouse.DefaultTenant)
	govTenants = append(govTenants, tenantIDs(tenants)...)
	slices.Sort(govTenants)
	govTenants = slices.Compact(govTenants)
	gov, err := readGovernance(ctx, src, govTenants)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := dst.ImportGovernance(ctx, gov.rules, gov.holds, gov.deletions, gov.policies); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintf(e.stderr, "migrate: %s copied\n", gov)

	// 5. The audit chain, verbatim.
	var after int64
	nev := 0
	for {
		evs, err := src.ListEventsForVerify(ctx, after, 1000)
		if err != nil {
			return fmt.Errorf("migrate: read audit log: %w", err)
		}
		if len(evs) == 0 {
			break
		}
		if err := dst.ImportAuditEvents(ctx, evs); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		after = evs[len(evs)-1].Seq
		nev += len(evs)
	}

	// 6. Check: counts match and the copied chain verifies.
	na, nr, ne, err := dst.ImportCounts(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if na != len(keys) || nr != nres || ne != nev {
		return fmt.Errorf("migrate: target holds %d assets, %d results, %d audit events; copied %d, %d, %d", na, nr, ne, len(keys), nres, nev)
	}
	if got, err := readGovernance(ctx, dst, govTenants); err != nil {
		return fmt.Errorf("migrate: %w", err)
	} else if got.String() != gov.String() {
		return fmt.Errorf("migrate: target holds %s; copied %s", got, gov)
	}
	if np, nrd, err := dst.RedactCounts(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	} else if np != len(plans) || nrd != len(renders) {
		return fmt.Errorf("migrate: target holds %d redaction plans, %d renders; copied %d, %d", np, nrd, len(plans), len(renders))
	}
	rep, err := audit.Verify(ctx, dst)
	if err != nil {
		return fmt.Errorf("migrate: verify audit chain: %w", err)
	}
	if !rep.OK {
		return fmt.Errorf("migrate: the copied audit chain does not verify at event %d: %s", rep.FirstBad, rep.Problem)
	}
	srcRep, err := audit.Verify(ctx, src)
	if err == nil && srcRep.Head != rep.Head {
		return fmt.Errorf("migrate: chain head %s differs from the source's %s", rep.Head, srcRep.Head)
	}
	fmt.Fprintf(e.stdout, "migrated %d assets, %d results, %d blobs (%d bytes), %d audit events; chain head %s verifies\n",
		len(keys), nres, blobs, bytes, nev, rep.Head)
	return nil
}

// readRedactions reads every redaction plan and render of the source.
func readRedactions(ctx context.Context, src *sqlite.DB) ([]*redact.Plan, []*redact.Render, error) {
	type key struct{ tenant, id string }
	list := func(q string) ([]key, error) {
		rows, err := src.SQL().QueryContext(ctx, q)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []key
		for rows.Next() {
			var k key
			if err := rows.Scan(&k.tenant, &k.id); err != nil {
				return nil, err
			}
			out = append(out, k)
		}
		return out, rows.Err()
	}
	pk, err := list(`SELECT tenant, asset FROM gh_redact_plans ORDER BY asset`)
	if err != nil {
		return nil, nil, fmt.Errorf("list redaction plans: %w", err)
	}
	plans := make([]*redact.Plan, 0, len(pk))
	for _, k := range pk {
		p, err := src.GetPlan(ctx, glasshouse.TenantID(k.tenant), glasshouse.AssetID(k.id))
		if err != nil {
			return nil, nil, fmt.Errorf("redaction plan of %s: %w", k.id, err)
		}
		plans = append(plans, p)
	}
	rk, err := list(`SELECT tenant, id FROM gh_redactions ORDER BY created, id`)
	if err != nil {
		return nil, nil, fmt.Errorf("list renders: %w", err)
	}
	renders := make([]*redact.Render, 0, len(rk))
	for _, k := range rk {
		r, err := src.GetRender(ctx, glasshouse.TenantID(k.tenant), k.id)
		if err != nil {
			return nil, nil, fmt.Errorf("render %s: %w", k.id, err)
		}
		renders = append(renders, r)
	}
	return plans, renders, nil
}

func tenantIDs(ts []auth.Tenant) []glasshouse.TenantID {
	out := make([]glasshouse.TenantID, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

// governance is what migrate copies of retention, legal holds, deletion
// records and policies.
type governance struct {
	rules     []glasshouse.RetentionRule
	holds     []glasshouse.Hold
	deletions []glasshouse.DeletionRecord
	policies  []*glasshouse.Policy
}

func (g governance) String() string {
	return fmt.Sprintf("%d retention rules, %d legal holds, %d deletion records, %d tenant policies",
		len(g.rules), len(g.holds), len(g.deletions), len(g.policies))
}

type governanceReader interface {
	RetentionRules(ctx context.Context, tenant glasshouse.TenantID) ([]glasshouse.RetentionRule, error)
	Holds(ctx context.Context, tenant glasshouse.TenantID) ([]glasshouse.Hold, error)
	DeletionRecords(ctx context.Context, tenant glasshouse.TenantID, from, to time.Time) ([]glasshouse.DeletionRecord, error)
	Policy(ctx context.Context, tenant glasshouse.TenantID) (*glasshouse.Policy, error)
}

// readGovernance reads the governance records of tenants. A tenant's
// policy counts only if one was set (the default has no Updated time).
func readGovernance(ctx context.Context, db governanceReader, tenants []glasshouse.TenantID) (governance, error) {
	var g governance
	end := time.Unix(0, math.MaxInt64)
	for _, t := range tenants {
		rs, err := db.RetentionRules(ctx, t)
		if err != nil {
			return g, fmt.Errorf("retention rules of %q: %w", t, err)
		}
		g.rules = append(g.rules, rs...)
		hs, err := db.Holds(ctx, t)
		if err != nil {
			return g, fmt.Errorf("legal holds of %q: %w", t, err)
		}
		g.holds = append(g.holds, hs...)
		ds, err := db.DeletionRecords(ctx, t, time.Time{}, end)
		if err != nil {
			return g, fmt.Errorf("deletion records of %q: %w", t, err)
		}
		g.deletions = append(g.deletions, ds...)
		p, err := db.Policy(ctx, t)
		if err != nil {
			return g, fmt.Errorf("policy of %q: %w", t, err)
		}
		if !p.Updated.IsZero() {
			g.policies = append(g.policies, p)
		}
	}
	return g, nil
}
