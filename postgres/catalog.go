package postgres

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
)

// Listing limits.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

const assetCols = `id, tenant, collection, name, media_type, kind, size, hash, probe, thumb, poster, note, legal_hold, created`

func scanAsset(sc interface{ Scan(...any) error }) (*glasshouse.Asset, error) {
	var a glasshouse.Asset
	var id, tenant, kind, hash, thumb, poster string
	var probe sql.NullString
	var hold int64
	var created int64
	if err := sc.Scan(&id, &tenant, &a.Collection, &a.Name, &a.MediaType, &kind, &a.Size, &hash, &probe, &thumb, &poster, &a.Note, &hold, &created); err != nil {
		return nil, err
	}
	a.ID = glasshouse.AssetID(id)
	a.Tenant = glasshouse.TenantID(tenant)
	a.Kind = glasshouse.MediaKind(kind)
	a.Hash = glasshouse.Ref(hash)
	a.Thumb = glasshouse.Ref(thumb)
	a.Poster = glasshouse.Ref(poster)
	a.LegalHold = hold != 0
	a.Created = fromNS(created)
	if probe.Valid && probe.String != "" {
		var p glasshouse.ProbeInfo
		if err := json.Unmarshal([]byte(probe.String), &p); err != nil {
			return nil, glasshouse.E("postgres.scanAsset", glasshouse.ErrCorrupt, err, "asset "+id+": malformed probe JSON")
		}
		a.Probe = &p
	}
	return &a, nil
}

func probeJSON(p *glasshouse.ProbeInfo) (any, error) {
	if p == nil {
		return nil, nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func checkOptRef(op, field string, r glasshouse.Ref) error {
	if r != "" && !r.Valid() {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "%s: malformed blob ref %q", field, r)
	}
	return nil
}

// CreateAsset inserts a, enqueues jobs for it and appends ev in one
// transaction. a.ID, a.Tenant and a valid a.Hash are required; a zero
// a.Created is set to now. Jobs get a.ID and a.Tenant filled in. ErrExist if
// the ID is taken; on any error nothing is written.
func (db *DB) CreateAsset(ctx context.Context, a *glasshouse.Asset, jobs []glasshouse.Job, ev glasshouse.AuditEvent) error {
	const op = "postgres.CreateAsset"
	if a == nil || a.ID == "" || a.Tenant == "" {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "asset needs an id and a tenant")
	}
	if !a.Hash.Valid() {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "asset %s: malformed hash %q", a.ID, a.Hash)
	}
	if err := checkOptRef(op, "thumb", a.Thumb); err != nil {
		return err
	}
	if err := checkOptRef(op, "poster", a.Poster); err != nil {
		return err
	}
	probe, err := probeJSON(a.Probe)
	if err != nil {
		return glasshouse.E(op, glasshouse.ErrInvalid, err, "encode probe")
	}
	created := a.Created
	if created.IsZero() {
		created = db.now()
	}
	created = fromNS(toNS(created))
	js := make([]glasshouse.Job, len(jobs))
	for i, j := range jobs {
		if j.Asset == "" {
			j.Asset = a.ID
		}
		if j.Tenant == "" {
			j.Tenant = a.Tenant
		}
		if j.Asset != a.ID || j.Tenant != a.Tenant {
			return glasshouse.Errorf(op, glasshouse.ErrInvalid, "job %d is for asset %s of tenant %s, not this asset", i, j.Asset, j.Tenant)
		}
		js[i] = j
	}
	err = db.writeTx(ctx, op, func(tx *Tx) error {
		if err := checkQuota(ctx, tx, op, a.Tenant, a.Size); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO gh_assets (`+assetCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			string(a.ID), string(a.Tenant), a.Collection, a.Name, a.MediaType, string(a.Kind), a.Size, string(a.Hash), probe,
			string(a.Thumb), string(a.Poster), a.Note, boolInt(a.LegalHold), toNS(created))
		if err != nil {
			return mapErr(op, err, "insert asset "+string(a.ID))
		}
		if err := db.enqueueTx(ctx, tx, op, js); err != nil {
			return err
		}
		_, err = db.appendTx(ctx, tx, op, ev)
		return err
	})
	if err != nil {
		return err
	}
	a.Created = created
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// GetAsset returns the tenant's asset with its Runs (latest state per
// analyzer, by name). Another tenant's asset is ErrNotExist.
func (db *DB) GetAsset(ctx context.Context, tenant glasshouse.TenantID, id glasshouse.AssetID) (*glasshouse.Asset, error) {
	const op = "postgres.GetAsset"
	// One read transaction: the asset and its runs from the same snapshot.
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return nil, mapErr(op, err, "begin")
	}
	defer tx.Rollback()
	a, err := scanAsset(tx.QueryRowContext(ctx, `SELECT `+assetCols+` FROM gh_assets WHERE tenant = ? AND id = ?`, string(tenant), string(id)))
	if err != nil {
		return nil, mapErr(op, err, "asset "+string(id))
	}
	runs, err := runsOf(ctx, tx, id)
	if err != nil {
		return nil, mapErr(op, err, "runs of asset "+string(id))
	}
	a.Runs = runs
	return a, nil
}

func runsOf(ctx context.Context, tx *Tx, id glasshouse.AssetID) ([]glasshouse.AnalyzerRun, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name, version, state, model, model_sha256, started, duration_ms, error
		FROM gh_runs WHERE asset = ? ORDER BY name`, string(id))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []glasshouse.AnalyzerRun
	for rows.Next() {
		var r glasshouse.AnalyzerRun
		var state string
		var started int64
		if err := rows.Scan(&r.Name, &r.Version, &state, &r.Model, &r.ModelSHA256, &started, &r.DurationMS, &r.Error); err != nil {
			return nil, err
		}
		r.State = glasshouse.JobState(state)
		r.Started = fromNS(started)
		out = append(out, r)
	}
	return out, rows.Err()
}

// FindAssetsByHash returns the tenant's assets whose content is ref, oldest
// first; an empty slice if none.
func (db *DB) FindAssetsByHash(ctx context.Context, tenant glasshouse.TenantID, ref glasshouse.Ref) ([]*glasshouse.Asset, error) {
	const op = "postgres.FindAssetsByHash"
	rows, err := db.r.QueryContext(ctx, `SELECT `+assetCols+` FROM gh_assets WHERE tenant = ? AND hash = ? ORDER BY created, id`, string(tenant), string(ref))
	if err != nil {
		return nil, mapErr(op, err, "")
	}
	defer rows.Close()
	out := []*glasshouse.Asset{}
	for rows.Next() {
		a, err := scanAsset(rows)
		if err != nil {
			return nil, mapErr(op, err, "")
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err, "")
	}
	return out, nil
}

// assetOrders are the listing orders: the ORDER BY clause and the keyset
// condition that continues after a cursor (key, key, id).
var assetOrders = map[string]struct{ order, after string }{
	"newest": {"created DESC, id DESC", "(created < ? OR (created = ? AND id < ?))"},
	"oldest": {"created ASC, id ASC", "(created > ? OR (created = ? AND id > ?))"},
	"name":   {"name ASC, id ASC", "(name > ? OR (name = ? AND id > ?))"},
	"size":   {"size DESC, id DESC", "(size < ? OR (size = ? AND id < ?))"},
}

// The cursor is "v2:<sort>:<id>:<key>", base64url without padding; key is
// the created time (ns), the size or the name of the last asset shown.
func encodeCursor(sort string, a *glasshouse.Asset) string {
	var key string
	switch sort {
	case "name":
		key = a.Name
	case "size":
		key = strconv.FormatInt(a.Size, 10)
	default:
		key = strconv.FormatInt(toNS(a.Created), 10)
	}
	return base64.RawURLEncoding.EncodeToString([]byte("v2:" + sort + ":" + string(a.ID) + ":" + key))
}

// decodeCursor returns the key (int64 or string) and id of a cursor made
// for sort.
func decodeCursor(sort, s string) (any, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, "", fmt.Errorf("decode cursor: %w", err)
	}
	parts := strings.SplitN(string(b), ":", 4)
	if len(parts) != 4 || parts[0] != "v2" || parts[2] == "" {
		return nil, "", fmt.Errorf("malformed cursor")
	}
	if parts[1] != sort {
		return nil, "", fmt.Errorf("cursor was made for sort %q, not %q", parts[1], sort)
	}
	if sort == "name" {
		return parts[3], parts[2], nil
	}
	n, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil {
		return nil, "", fmt.Errorf("malformed cursor: %w", err)
	}
	return n, parts[2], nil
}

// ListAssets lists the tenant's assets newest first (created desc, id desc)
// with keyset pagination. Total counts every asset matching the filter,
// regardless of the cursor. Runs are filled, as in GetAsset.
func (db *DB) ListAssets(ctx context.Context, f glasshouse.AssetFilter) (*glasshouse.AssetPage, error) {
	const op = "postgres.ListAssets"
	if f.Tenant == "" {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "no tenant")
	}
	limit := f.Limit
	switch {
	case limit < 0:
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "negative limit %d", limit)
	case limit == 0:
		limit = DefaultPageSize
	case limit > MaxPageSize:
		limit = MaxPageSize
	}
	sort := f.Sort
	if sort == "" {
		sort = "newest"
	}
	ord, ok := assetOrders[sort]
	if !ok {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "unknown sort %q (want newest, oldest, name or size)", f.Sort)
	}
	where := `tenant = ?`
	args := []any{string(f.Tenant)}
	if f.Collection != "" {
		where += ` AND collection = ?`
		args = append(args, f.Collection)
	}
	if f.Kind != "" {
		where += ` AND kind = ?`
		args = append(args, string(f.Kind))
	}
	// One read transaction: Total and the page from the same snapshot.
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return nil, mapErr(op, err, "begin")
	}
	defer tx.Rollback()
	page := &glasshouse.AssetPage{Assets: []*glasshouse.Asset{}}
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM gh_assets WHERE `+where, args...).Scan(&page.Total); err != nil {
		return nil, mapErr(op, err, "count")
	}
	if f.Cursor != "" {
		key, id, err := decodeCursor(sort, f.Cursor)
		if err != nil {
			return nil, glasshouse.E(op, glasshouse.ErrInvalid, err, "")
		}
		where += ` AND ` + ord.after
		args = append(args, key, key, id)
	}
	args = append(args, limit+1)
	rows, err := tx.QueryContext(ctx, `SELECT `+assetCols+` FROM gh_assets WHERE `+where+` ORDER BY `+ord.order+` LIMIT ?`, args...)
	if err != nil {
		return nil, mapErr(op, err, "")
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAsset(rows)
		if err != nil {
			return nil, mapErr(op, err, "")
		}
		page.Assets = append(page.Assets, a)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err, "")
	}
	if len(page.Assets) > limit {
		page.Assets = page.Assets[:limit]
		page.Next = encodeCursor(sort, page.Assets[limit-1])
	}
	rows.Close()
	// The analyzer states of each listed asset, for the library view.
	for _, a := range page.Assets {
		if a.Runs, err = runsOf(ctx, tx, a.ID); err != nil {
			return nil, mapErr(op, err, "runs of asset "+string(a.ID))
		}
	}
	return page, nil
}

// UpdateAsset stores the mutable fields of a (Probe, Thumb, Poster, Note,
// Collection, LegalHold), found by (a.Tenant, a.ID).
func (db *DB) UpdateAsset(ctx context.Context, a *glasshouse.Asset) error {
	const op = "postgres.UpdateAsset"
	if a == nil || a.ID == "" || a.Tenant == "" {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "asset needs an id and a tenant")
	}
	if err := checkOptRef(op, "thumb", a.Thumb); err != nil {
		return err
	}
	if err := checkOptRef(op, "poster", a.Poster); err != nil {
		return err
	}
	probe, err := probeJSON(a.Probe)
	if err != nil {
		return glasshouse.E(op, glasshouse.ErrInvalid, err, "encode probe")
	}
	return db.writeTx(ctx, op, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE gh_assets SET probe = ?, thumb = ?, poster = ?, note = ?, collection = ?, legal_hold = ?
			WHERE tenant = ? AND id = ?`,
			probe, string(a.Thumb), string(a.Poster), a.Note, a.Collection, boolInt(a.LegalHold), string(a.Tenant), string(a.ID))
		if err != nil {
			return mapErr(op, err, "asset "+string(a.ID))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return glasshouse.Errorf(op, glasshouse.ErrNotExist, "asset %s not found", a.ID)
		}
		return nil
	})
}

// DeleteAsset removes the asset with its results, runs and jobs, appends ev,
// and returns the blobs (original, thumbnail, poster, result blobs) that no
// asset or result references any more, and writes the deletion record, all
// in one transaction. ErrConflict under legal hold (of the asset or its
// collection).
func (db *DB) DeleteAsset(ctx context.Context, tenant glasshouse.TenantID, id glasshouse.AssetID, ev glasshouse.AuditEvent) ([]glasshouse.Ref, error) {
	const op = "postgres.DeleteAsset"
	var orphans []glasshouse.Ref
	err := db.writeTx(ctx, op, func(tx *Tx) error {
		orphans = nil
		// Shared: deletes run side by side, but not while a hold of the
		// tenant is being placed or released.
		if err := lockHolds(ctx, tx, op, tenant, true); err != nil {
			return err
		}
		if err := lockQuota(ctx, tx, op, tenant, true); err != nil {
			return err
		}
		var hold, size, created int64
		var hash, thumb, poster, name, kind, collection string
		var probe sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT legal_hold, hash, thumb, poster, name, kind, collection, size, created, probe
			FROM gh_assets WHERE tenant = ? AND id = ? FOR UPDATE`,
			string(tenant), string(id)).Scan(&hold, &hash, &thumb, &poster, &name, &kind, &collection, &size, &created, &probe)
		if err != nil {
			return mapErr(op, err, "asset "+string(id))
		}
		if err := checkNoHold(ctx, tx, op, tenant, id, collection, hold != 0); err != nil {
			return err
		}
		cand := []string{hash, thumb, poster}
		rows, err := tx.QueryContext(ctx, `SELECT DISTINCT ref FROM gh_result_blobs WHERE asset = ?`, string(id))
		if err != nil {
			return mapErr(op, err, "result blobs")
		}
		for rows.Next() {
			var r string
			if err := rows.Scan(&r); err != nil {
				rows.Close()
				return mapErr(op, err, "result blobs")
			}
			cand = append(cand, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return mapErr(op, err, "result blobs")
		}
		// Foreign keys cascade to results, result blobs and runs; the
		// asset's River jobs go explicitly.
		if _, err := tx.ExecContext(ctx, `DELETE FROM river_job WHERE kind = 'glasshouse_analyze' AND args->>'asset' = ?`, string(id)); err != nil {
			return mapErr(op, err, "delete jobs of asset "+string(id))
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM gh_assets WHERE id = ?`, string(id)); err != nil {
			return mapErr(op, err, "delete asset "+string(id))
		}
		if err := releaseQuota(ctx, tx, op, tenant, size); err != nil {
			return err
		}
		slices.Sort(cand)
		cand = slices.Compact(cand)
		for _, r := range cand {
			if r == "" {
				continue
			}
			used, err := blobInUse(ctx, tx, r)
			if err != nil {
				return mapErr(op, err, "check blob "+r)
			}
			if !used {
				orphans = append(orphans, glasshouse.Ref(r))
			}
		}
		ev, err = db.appendTx(ctx, tx, op, ev)
		if err != nil {
			return err
		}
		rec := glasshouse.DeletionRecord{
			Tenant: tenant, Asset: id, Name: name, Hash: glasshouse.Ref(hash), Size: size,
			Kind: glasshouse.MediaKind(kind), Collection: collection, DurationMS: probeDuration(probe),
			Created: fromNS(created), Deleted: ev.Time, Actor: ev.Actor, Reason: deletionReason(ev), AuditSeq: ev.Seq,
		}
		return insertDeletion(ctx, tx, op, &rec)
	})
	if err != nil {
		return nil, err
	}
	return orphans, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func blobInUse(ctx context.Context, q querier, ref string) (bool, error) {
	var used bool
	err := q.QueryRowContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM gh_assets WHERE hash = ?) OR
		EXISTS (SELECT 1 FROM gh_assets WHERE thumb = ?) OR
		EXISTS (SELECT 1 FROM gh_assets WHERE poster = ?) OR
		EXISTS (SELECT 1 FROM gh_result_blobs WHERE ref = ?)`, ref, ref, ref, ref).Scan(&used)
	return used, err
}

// BlobInUse reports whether any asset (original, thumbnail, poster) or result
// of any tenant references ref.
func (db *DB) BlobInUse(ctx context.Context, ref glasshouse.Ref) (bool, error) {
	used, err := blobInUse(ctx, db.r, string(ref))
	if err != nil {
		return false, mapErr("postgres.BlobInUse", err, string(ref))
	}
	return used, nil
}

// assetExists checks (tenant, id) inside tx.
func assetExists(ctx context.Context, tx *Tx, op string, tenant glasshouse.TenantID, id glasshouse.AssetID) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM gh_assets WHERE tenant = ? AND id = ?`, string(tenant), string(id)).Scan(&one)
	if err != nil {
		return mapErr(op, err, "asset "+string(id))
	}
	return nil
}

// resultRefs is every blob r references: Result.Blobs and keyframe images.
func resultRefs(r *glasshouse.Result) []string {
	var refs []string
	for _, b := range r.Blobs {
		refs = append(refs, string(b))
	}
	for _, k := range r.Insights.Keyframes {
		refs = append(refs, string(k.Image), string(k.Thumb))
	}
	slices.Sort(refs)
	refs = slices.Compact(refs)
	if len(refs) > 0 && refs[0] == "" {
		refs = refs[1:]
	}
	return refs
}

// PutResult replaces the asset's result of r.Run.Name, records the run as
// done and appends ev, in one transaction.
func (db *DB) PutResult(ctx context.Context, r *glasshouse.Result, ev glasshouse.AuditEvent) error {
	return db.putResult(ctx, "postgres.PutResult", nil, 0, r, ev)
}

// PutResultLeased is PutResult fenced by the job's lease: in the same
// transaction it checks that l still holds its job (running, same lease
// token; the row stays locked until commit) and extends the lease by
// extend, so that a worker that lost its lease (paused, stalled) while
// another one re-ran the job cannot write its stale result: it gets
// ErrConflict and nothing is stored.
func (db *DB) PutResultLeased(ctx context.Context, l *glasshouse.Lease, extend time.Duration, r *glasshouse.Result, ev glasshouse.AuditEvent) error {
	const op = "postgres.PutResultLeased"
	if l == nil || l.Token == "" {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "no lease")
	}
	return db.putResult(ctx, op, l, extend, r, ev)
}

func (db *DB) putResult(ctx context.Context, op string, l *glasshouse.Lease, extend time.Duration, r *glasshouse.Result, ev glasshouse.AuditEvent) error {
	if r == nil || r.Asset == "" || r.Tenant == "" || r.Run.Name == "" {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "result needs an asset, a tenant and a run name")
	}
	refs := resultRefs(r)
	for _, ref := range refs {
		if !glasshouse.Ref(ref).Valid() {
			return glasshouse.Errorf(op, glasshouse.ErrInvalid, "result %s/%s: malformed blob ref %q", r.Asset, r.Run.Name, ref)
		}
	}
	run := r.Run
	run.State = glasshouse.JobDone
	run.Error = ""
	runJSON, err := json.Marshal(run)
	if err != nil {
		return glasshouse.E(op, glasshouse.ErrInvalid, err, "encode run")
	}
	insJSON, err := json.Marshal(r.Insights)
	if err != nil {
		return glasshouse.E(op, glasshouse.ErrInvalid, err, "encode insights")
	}
	blobs := r.Blobs
	if blobs == nil {
		blobs = []glasshouse.Ref{}
	}
	blobsJSON, err := json.Marshal(blobs)
	if err != nil {
		return glasshouse.E(op, glasshouse.ErrInvalid, err, "encode blobs")
	}
	err = db.writeTx(ctx, op, func(tx *Tx) error {
		if l != nil {
			res, err := tx.tx.ExecContext(ctx, `UPDATE river_job SET metadata = metadata || jsonb_build_object('lease_expires', $3::bigint)
				WHERE id = $1 AND state = 'running' AND metadata->>'lease_token' = $2`, l.Job.ID, l.Token, toNS(db.now().Add(max(extend, 0))))
			if err != nil {
				return mapErr(op, err, fmt.Sprintf("fence on job %d", l.Job.ID))
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return db.leaseLost(ctx, op, l)
			}
		}
		if err := assetExists(ctx, tx, op, r.Tenant, r.Asset); err != nil {
			return err
		}
		oldRefs, err := queryStrings(ctx, tx, `SELECT ref FROM gh_result_blobs WHERE asset = ? AND analyzer = ?`, string(r.Asset), run.Name)
		if err != nil {
			return mapErr(op, err, "old result blobs")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM gh_results WHERE asset = ? AND analyzer = ?`, string(r.Asset), run.Name); err != nil {
			return mapErr(op, err, "replace result")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO gh_results (asset, analyzer, tenant, run, insights, blobs) VALUES (?, ?, ?, ?, ?, ?)`,
			string(r.Asset), run.Name, string(r.Tenant), string(runJSON), string(insJSON), string(blobsJSON)); err != nil {
			return mapErr(op, err, "insert result")
		}
		for _, ref := range refs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO gh_result_blobs (asset, analyzer, ref) VALUES (?, ?, ?)`, string(r.Asset), run.Name, ref); err != nil {
				return mapErr(op, err, "insert result blob")
			}
		}
		// Blobs only the replaced result held become orphans.
		for _, ref := range oldRefs {
			used, err := blobInUse(ctx, tx, ref)
			if err != nil {
				return mapErr(op, err, "check blob "+ref)
			}
			if !used {
				if _, err := tx.ExecContext(ctx, `INSERT INTO gh_orphans (ref, since) VALUES (?, ?) ON CONFLICT DO NOTHING`, ref, toNS(db.now())); err != nil {
					return mapErr(op, err, "record orphan")
				}
			}
		}
		if err := db.upsertRun(ctx, tx, op, r.Asset, run); err != nil {
			return err
		}
		_, err = db.appendTx(ctx, tx, op, ev)
		return err
	})
	if err != nil {
		return err
	}
	r.Run.State = glasshouse.JobDone
	return nil
}

func (db *DB) upsertRun(ctx context.Context, tx *Tx, op string, asset glasshouse.AssetID, run glasshouse.AnalyzerRun) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO gh_runs (asset, name, version, state, model, model_sha256, started, duration_ms, error, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (asset, name) DO UPDATE SET version = excluded.version, state = excluded.state, model = excluded.model,
			model_sha256 = excluded.model_sha256, started = excluded.started, duration_ms = excluded.duration_ms,
			error = excluded.error, updated = excluded.updated`,
		string(asset), run.Name, run.Version, string(run.State), run.Model, run.ModelSHA256, toNS(run.Started), run.DurationMS, run.Error, toNS(db.now()))
	if err != nil {
		return mapErr(op, err, "record run "+run.Name)
	}
	return nil
}

// RecordRun stores the latest state of an analyzer on an asset without
// results (failed, or skipped). It does not touch a stored result.
func (db *DB) RecordRun(ctx context.Context, tenant glasshouse.TenantID, asset glasshouse.AssetID, run glasshouse.AnalyzerRun) error {
	const op = "postgres.RecordRun"
	if run.Name == "" || run.State == "" {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "run needs a name and a state")
	}
	return db.writeTx(ctx, op, func(tx *Tx) error {
		if err := assetExists(ctx, tx, op, tenant, asset); err != nil {
			return err
		}
		return db.upsertRun(ctx, tx, op, asset, run)
	})
}

// Results returns every stored result of the tenant's asset, by analyzer
// name. ErrNotExist if the asset is not the tenant's.
func (db *DB) Results(ctx context.Context, tenant glasshouse.TenantID, id glasshouse.AssetID) ([]*glasshouse.Result, error) {
	const op = "postgres.Results"
	var one int
	if err := db.r.QueryRowContext(ctx, `SELECT 1 FROM gh_assets WHERE tenant = ? AND id = ?`, string(tenant), string(id)).Scan(&one); err != nil {
		return nil, mapErr(op, err, "asset "+string(id))
	}
	rows, err := db.r.QueryContext(ctx, `SELECT analyzer, run, insights, blobs FROM gh_results WHERE asset = ? AND tenant = ? ORDER BY analyzer`,
		string(id), string(tenant))
	if err != nil {
		return nil, mapErr(op, err, "")
	}
	defer rows.Close()
	out := []*glasshouse.Result{}
	for rows.Next() {
		var name, runJSON, insJSON, blobsJSON string
		if err := rows.Scan(&name, &runJSON, &insJSON, &blobsJSON); err != nil {
			return nil, mapErr(op, err, "")
		}
		r := &glasshouse.Result{Asset: id, Tenant: tenant}
		if err := json.Unmarshal([]byte(runJSON), &r.Run); err != nil {
			return nil, glasshouse.E(op, glasshouse.ErrCorrupt, err, "result "+name+": malformed run JSON")
		}
		if err := json.Unmarshal([]byte(insJSON), &r.Insights); err != nil {
			return nil, glasshouse.E(op, glasshouse.ErrCorrupt, err, "result "+name+": malformed insights JSON")
		}
		if err := json.Unmarshal([]byte(blobsJSON), &r.Blobs); err != nil {
			return nil, glasshouse.E(op, glasshouse.ErrCorrupt, err, "result "+name+": malformed blobs JSON")
		}
		if len(r.Blobs) == 0 {
			r.Blobs = nil
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err, "")
	}
	return out, nil
}

func queryStrings(ctx context.Context, tx *Tx, q string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// TakeOrphans returns the blobs that results replaced by PutResult used to
// reference and that nothing references now, and forgets them: the caller
// deletes them from the blob store (re-checking BlobInUse first, since an
// upload may reference the same content again meanwhile). Blobs released by
// DeleteAsset are returned by DeleteAsset itself, not here.
func (db *DB) TakeOrphans(ctx context.Context) ([]glasshouse.Ref, error) {
	const op = "postgres.TakeOrphans"
	var out []glasshouse.Ref
	err := db.writeTx(ctx, op, func(tx *Tx) error {
		out = nil
		refs, err := queryStrings(ctx, tx, `SELECT ref FROM gh_orphans ORDER BY ref`)
		if err != nil {
			return mapErr(op, err, "")
		}
		for _, r := range refs {
			used, err := blobInUse(ctx, tx, r)
			if err != nil {
				return mapErr(op, err, "check blob "+r)
			}
			if !used {
				out = append(out, glasshouse.Ref(r))
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM gh_orphans`); err != nil {
			return mapErr(op, err, "")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// TenantUsage is what an operator may see of a tenant: counts, not content.
type TenantUsage struct {
	Tenant glasshouse.TenantID `json:"tenant"`
	Assets int                 `json:"assets"`
	Bytes  int64               `json:"bytes"` // sum of original sizes
}

// Usage returns the number of assets and bytes of originals per tenant.
func (db *DB) Usage(ctx context.Context) ([]TenantUsage, error) {
	const op = "postgres.Usage"
	rows, err := db.r.QueryContext(ctx, `SELECT tenant, count(*), coalesce(sum(size), 0) FROM gh_assets GROUP BY tenant ORDER BY tenant`)
	if err != nil {
		return nil, mapErr(op, err, "")
	}
	defer rows.Close()
	out := []TenantUsage{}
	for rows.Next() {
		var u TenantUsage
		var t string
		if err := rows.Scan(&t, &u.Assets, &u.Bytes); err != nil {
			return nil, mapErr(op, err, "")
		}
		u.Tenant = glasshouse.TenantID(t)
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err, "")
	}
	return out, nil
}
