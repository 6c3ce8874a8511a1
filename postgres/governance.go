package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
)

// Retention rules, legal holds, deletion records, tenant policy and usage
// figures, as in the embedded backend (sqlite/governance.go), which is the
// reference; the conformance suite governancetest runs against both.
//
// Concurrency (the embedded backend has one writer at a time; here
// transactions run side by side under READ COMMITTED):
//   - quota: gh_policy keeps a running total of the tenant's stored bytes;
//     CreateAsset adds to it (which locks the row until commit) before it
//     compares with the quota, so two uploads of a tenant cannot both pass
//     the same remaining quota, and a check costs one row, not a sum over
//     the tenant's assets. SetPolicy recomputes the total under a
//     per-tenant advisory lock that creates and deletes take shared;
//   - holds: SetHold and ReleaseHold take the tenant's hold lock (a
//     transaction-scoped advisory lock) exclusively, DeleteAsset takes it
//     shared before it reads the holds, so a delete either finishes before
//     a hold is placed or sees it.

const dayNS = int64(24 * time.Hour)

// holdLockClass is the first key of the per-tenant hold advisory lock
// (two-int4 key space, distinct from the single-bigint keys of the audit
// chain and migrations); the second key is hashtext(tenant).
const holdLockClass = 0x686f6c64 // "hold"

func lockHolds(ctx context.Context, tx *Tx, op string, tenant glasshouse.TenantID, shared bool) error {
	q := `SELECT pg_advisory_xact_lock(?, hashtext(?))`
	if shared {
		q = `SELECT pg_advisory_xact_lock_shared(?, hashtext(?))`
	}
	if _, err := tx.ExecContext(ctx, q, holdLockClass, string(tenant)); err != nil {
		return mapErr(op, err, "lock legal holds of tenant "+string(tenant))
	}
	return nil
}

// checkNoHold refuses to delete an asset covered by a legal hold, naming it.
func checkNoHold(ctx context.Context, tx *Tx, op string, tenant glasshouse.TenantID, id glasshouse.AssetID, collection string, flagged bool) error {
	rows, err := tx.QueryContext(ctx, `SELECT scope, target, reason, set_by, since FROM gh_holds
		WHERE tenant = ? AND ((scope = 'asset' AND target = ?) OR (scope = 'collection' AND target = ?))
		ORDER BY scope`, string(tenant), string(id), collection)
	if err != nil {
		return mapErr(op, err, "read legal holds")
	}
	defer rows.Close()
	for rows.Next() {
		var h glasshouse.Hold
		var since int64
		if err := rows.Scan(&h.Scope, &h.Target, &h.Reason, &h.SetBy, &since); err != nil {
			return mapErr(op, err, "read legal holds")
		}
		what := "asset " + string(id) + " is under legal hold"
		if h.Scope == glasshouse.HoldCollection {
			what = fmt.Sprintf("asset %s is in collection %q, which is under legal hold", id, h.Target)
		}
		return glasshouse.Errorf(op, glasshouse.ErrConflict, "%s (%q, set by %s on %s); release the hold before deleting",
			what, h.Reason, h.SetBy, fromNS(since).Format("2006-01-02"))
	}
	if err := rows.Err(); err != nil {
		return mapErr(op, err, "read legal holds")
	}
	if flagged {
		return glasshouse.Errorf(op, glasshouse.ErrConflict, "asset %s is under legal hold; release the hold before deleting", id)
	}
	return nil
}

func probeDuration(p sql.NullString) int64 {
	if !p.Valid || p.String == "" {
		return 0
	}
	var pi glasshouse.ProbeInfo
	if json.Unmarshal([]byte(p.String), &pi) != nil {
		return 0
	}
	return pi.DurationMS
}

// deletionReason reads the reason from the delete event's detail ("reason":
// "retention"); anything else is a deletion by a user.
func deletionReason(ev glasshouse.AuditEvent) string {
	var d struct {
		Reason string `json:"reason"`
	}
	if len(ev.Detail) > 0 && json.Unmarshal(ev.Detail, &d) == nil && d.Reason == glasshouse.DeletedByRetention {
		return glasshouse.DeletedByRetention
	}
	return glasshouse.DeletedByUser
}

func insertDeletion(ctx context.Context, tx *Tx, op string, r *glasshouse.DeletionRecord) error {
	err := tx.QueryRowContext(ctx, `INSERT INTO gh_deletions (tenant, asset, name, hash, size, kind, collection, duration_ms, created, deleted, actor, reason, audit_seq)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		string(r.Tenant), string(r.Asset), r.Name, string(r.Hash), r.Size, string(r.Kind), r.Collection, r.DurationMS,
		toNS(r.Created), toNS(r.Deleted), r.Actor, r.Reason, r.AuditSeq).Scan(&r.ID)
	if err != nil {
		return mapErr(op, err, "insert deletion record")
	}
	return nil
}

// quotaLockClass is the first key of the per-tenant quota advisory lock:
// CreateAsset and DeleteAsset take it shared, SetPolicy exclusively while it
// recomputes the tenant's stored_bytes, so no upload or delete is in flight
// (and missed by the sum) then.
const quotaLockClass = 0x71756f74 // "quot"

func lockQuota(ctx context.Context, tx *Tx, op string, tenant glasshouse.TenantID, shared bool) error {
	q := `SELECT pg_advisory_xact_lock(?, hashtext(?))`
	if shared {
		q = `SELECT pg_advisory_xact_lock_shared(?, hashtext(?))`
	}
	if _, err := tx.ExecContext(ctx, q, quotaLockClass, string(tenant)); err != nil {
		return mapErr(op, err, "lock quota of tenant "+string(tenant))
	}
	return nil
}

// checkQuota adds size to the tenant's stored bytes and refuses the asset
// if that takes the tenant over its storage quota. It runs inside the
// transaction that inserts the asset; the update locks the tenant's policy
// row until that transaction ends, so two uploads cannot both slip under
// the limit, and a refusal rolls the addition back.
func checkQuota(ctx context.Context, tx *Tx, op string, tenant glasshouse.TenantID, size int64) error {
	if err := lockQuota(ctx, tx, op, tenant, true); err != nil {
		return err
	}
	var quota, stored int64
	err := tx.QueryRowContext(ctx, `UPDATE gh_policy SET stored_bytes = stored_bytes + ? WHERE tenant = ? RETURNING quota_bytes, stored_bytes`,
		size, string(tenant)).Scan(&quota, &stored)
	if err == sql.ErrNoRows || (err == nil && quota <= 0) {
		return nil
	}
	if err != nil {
		return mapErr(op, err, "read quota")
	}
	if used := stored - size; stored > quota {
		return glasshouse.Errorf(op, glasshouse.ErrQuota,
			"storing %d bytes would exceed the storage quota of tenant %s: %d of %d bytes used, %d left",
			size, tenant, used, quota, max(quota-used, 0))
	}
	return nil
}

// releaseQuota subtracts a deleted asset's size from the tenant's stored
// bytes; the caller holds the shared quota lock.
func releaseQuota(ctx context.Context, tx *Tx, op string, tenant glasshouse.TenantID, size int64) error {
	if _, err := tx.ExecContext(ctx, `UPDATE gh_policy SET stored_bytes = stored_bytes - ? WHERE tenant = ?`, size, string(tenant)); err != nil {
		return mapErr(op, err, "stored bytes of tenant "+string(tenant))
	}
	return nil
}

// ---------------------------------------------------------------------------
// Retention

// SetRetention creates or replaces a retention rule and appends ev.
func (db *DB) SetRetention(ctx context.Context, r glasshouse.RetentionRule, ev glasshouse.AuditEvent) error {
	const op = "postgres.SetRetention"
	if r.Tenant == "" || r.Days <= 0 {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "a retention rule needs a tenant and days > 0")
	}
	scope, coll := retScope(r.All, r.Collection)
	return db.writeTx(ctx, op, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO gh_retention (tenant, scope, collection, days, set_by, updated) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant, scope, collection) DO UPDATE SET days = excluded.days, set_by = excluded.set_by, updated = excluded.updated`,
			string(r.Tenant), scope, coll, r.Days, r.SetBy, toNS(db.now()))
		if err != nil {
			return mapErr(op, err, "store rule")
		}
		_, err = db.appendTx(ctx, tx, op, ev)
		return err
	})
}

func retScope(all bool, coll string) (string, string) {
	if all {
		return "tenant", ""
	}
	return "collection", coll
}

// DeleteRetention removes a rule (ErrNotExist if there is none) and appends ev.
func (db *DB) DeleteRetention(ctx context.Context, tenant glasshouse.TenantID, all bool, collection string, ev glasshouse.AuditEvent) error {
	const op = "postgres.DeleteRetention"
	scope, coll := retScope(all, collection)
	return db.writeTx(ctx, op, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM gh_retention WHERE tenant = ? AND scope = ? AND collection = ?`, string(tenant), scope, coll)
		if err != nil {
			return mapErr(op, err, "delete rule")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if all {
				return glasshouse.Errorf(op, glasshouse.ErrNotExist, "no tenant-wide retention rule")
			}
			return glasshouse.Errorf(op, glasshouse.ErrNotExist, "no retention rule for collection %q", collection)
		}
		_, err = db.appendTx(ctx, tx, op, ev)
		return err
	})
}

// RetentionRules lists the tenant's rules, the tenant-wide one first.
func (db *DB) RetentionRules(ctx context.Context, tenant glasshouse.TenantID) ([]glasshouse.RetentionRule, error) {
	const op = "postgres.RetentionRules"
	rows, err := db.r.QueryContext(ctx, `SELECT scope, collection, days, set_by, updated FROM gh_retention WHERE tenant = ?
		ORDER BY scope DESC, collection`, string(tenant))
	if err != nil {
		return nil, mapErr(op, err, "")
	}
	defer rows.Close()
	out := []glasshouse.RetentionRule{}
	for rows.Next() {
		r := glasshouse.RetentionRule{Tenant: tenant}
		var scope string
		var updated int64
		if err := rows.Scan(&scope, &r.Collection, &r.Days, &r.SetBy, &updated); err != nil {
			return nil, mapErr(op, err, "")
		}
		r.All = scope == "tenant"
		r.Updated = fromNS(updated)
		out = append(out, r)
	}
	return out, mapErr(op, rows.Err(), "")
}

// DueAssets lists, oldest first, the assets of every tenant that their
// retention rule (the collection's, else the tenant-wide one) says are due
// at now, held ones included (deleting those fails with ErrConflict).
func (db *DB) DueAssets(ctx context.Context, now time.Time) ([]glasshouse.DueAsset, error) {
	const op = "postgres.DueAssets"
	rows, err := db.r.QueryContext(ctx, `SELECT a.tenant, a.id, coalesce(c.days, t.days), c.days IS NULL
		FROM gh_assets a
		LEFT JOIN gh_retention c ON c.tenant = a.tenant AND c.scope = 'collection' AND c.collection = a.collection
		LEFT JOIN gh_retention t ON t.tenant = a.tenant AND t.scope = 'tenant'
		WHERE coalesce(c.days, t.days) IS NOT NULL AND a.created <= ?::bigint - coalesce(c.days, t.days) * ?::bigint
		ORDER BY a.created, a.id`, toNS(now), dayNS)
	if err != nil {
		return nil, mapErr(op, err, "")
	}
	defer rows.Close()
	var out []glasshouse.DueAsset
	for rows.Next() {
		var d glasshouse.DueAsset
		var t, id string
		if err := rows.Scan(&t, &id, &d.Days, &d.All); err != nil {
			return nil, mapErr(op, err, "")
		}
		d.Tenant, d.ID = glasshouse.TenantID(t), glasshouse.AssetID(id)
		out = append(out, d)
	}
	return out, mapErr(op, rows.Err(), "")
}

// ---------------------------------------------------------------------------
// Legal holds

// SetHold places (or updates the reason of) a legal hold and appends ev. An
// asset hold needs the asset to exist in the tenant.
func (db *DB) SetHold(ctx context.Context, h glasshouse.Hold, ev glasshouse.AuditEvent) error {
	const op = "postgres.SetHold"
	if h.Tenant == "" || strings.TrimSpace(h.Reason) == "" {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "a legal hold needs a tenant and a reason")
	}
	if h.Scope != glasshouse.HoldAsset && h.Scope != glasshouse.HoldCollection {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "hold scope must be asset or collection, not %q", h.Scope)
	}
	return db.writeTx(ctx, op, func(tx *Tx) error {
		if err := lockHolds(ctx, tx, op, h.Tenant, false); err != nil {
			return err
		}
		if h.Scope == glasshouse.HoldAsset {
			res, err := tx.ExecContext(ctx, `UPDATE gh_assets SET legal_hold = 1 WHERE tenant = ? AND id = ?`, string(h.Tenant), h.Target)
			if err != nil {
				return mapErr(op, err, "asset "+h.Target)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return glasshouse.Errorf(op, glasshouse.ErrNotExist, "asset %s not found", h.Target)
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO gh_holds (tenant, scope, target, reason, set_by, since) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant, scope, target) DO UPDATE SET reason = excluded.reason, set_by = excluded.set_by`,
			string(h.Tenant), h.Scope, h.Target, h.Reason, h.SetBy, toNS(db.now()))
		if err != nil {
			return mapErr(op, err, "store hold")
		}
		_, err = db.appendTx(ctx, tx, op, ev)
		return err
	})
}

// ReleaseHold lifts a hold (ErrNotExist if there is none) and appends ev.
func (db *DB) ReleaseHold(ctx context.Context, tenant glasshouse.TenantID, scope, target string, ev glasshouse.AuditEvent) error {
	const op = "postgres.ReleaseHold"
	return db.writeTx(ctx, op, func(tx *Tx) error {
		if err := lockHolds(ctx, tx, op, tenant, false); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM gh_holds WHERE tenant = ? AND scope = ? AND target = ?`, string(tenant), scope, target)
		if err != nil {
			return mapErr(op, err, "delete hold")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return glasshouse.Errorf(op, glasshouse.ErrNotExist, "no legal hold on %s %q", scope, target)
		}
		if scope == glasshouse.HoldAsset {
			if _, err := tx.ExecContext(ctx, `UPDATE gh_assets SET legal_hold = 0 WHERE tenant = ? AND id = ?`, string(tenant), target); err != nil {
				return mapErr(op, err, "asset "+target)
			}
		}
		_, err = db.appendTx(ctx, tx, op, ev)
		return err
	})
}

// Holds lists the tenant's legal holds.
func (db *DB) Holds(ctx context.Context, tenant glasshouse.TenantID) ([]glasshouse.Hold, error) {
	const op = "postgres.Holds"
	rows, err := db.r.QueryContext(ctx, `SELECT scope, target, reason, set_by, since FROM gh_holds WHERE tenant = ? ORDER BY scope, target`, string(tenant))
	if err != nil {
		return nil, mapErr(op, err, "")
	}
	defer rows.Close()
	out := []glasshouse.Hold{}
	for rows.Next() {
		h := glasshouse.Hold{Tenant: tenant}
		var since int64
		if err := rows.Scan(&h.Scope, &h.Target, &h.Reason, &h.SetBy, &since); err != nil {
			return nil, mapErr(op, err, "")
		}
		h.Since = fromNS(since)
		out = append(out, h)
	}
	return out, mapErr(op, rows.Err(), "")
}

// ---------------------------------------------------------------------------
// Deletion records

// DeletionRecords lists the tenant's deletion records with deleted in
// [from, to), oldest first.
func (db *DB) DeletionRecords(ctx context.Context, tenant glasshouse.TenantID, from, to time.Time) ([]glasshouse.DeletionRecord, error) {
	const op = "postgres.DeletionRecords"
	rows, err := db.r.QueryContext(ctx, `SELECT id, asset, name, hash, size, kind, collection, duration_ms, created, deleted, actor, reason, audit_seq
		FROM gh_deletions WHERE tenant = ? AND deleted >= ? AND deleted < ? ORDER BY deleted, id`, string(tenant), toNS(from), toNS(to))
	if err != nil {
		return nil, mapErr(op, err, "")
	}
	defer rows.Close()
	out := []glasshouse.DeletionRecord{}
	for rows.Next() {
		r := glasshouse.DeletionRecord{Tenant: tenant}
		var asset, hash, kind string
		var created, deleted int64
		if err := rows.Scan(&r.ID, &asset, &r.Name, &hash, &r.Size, &kind, &r.Collection, &r.DurationMS, &created, &deleted, &r.Actor, &r.Reason, &r.AuditSeq); err != nil {
			return nil, mapErr(op, err, "")
		}
		r.Asset, r.Hash, r.Kind = glasshouse.AssetID(asset), glasshouse.Ref(hash), glasshouse.MediaKind(kind)
		r.Created, r.Deleted = fromNS(created), fromNS(deleted)
		out = append(out, r)
	}
	return out, mapErr(op, rows.Err(), "")
}

// ---------------------------------------------------------------------------
// Policy

// Policy returns the tenant's limits (no quota, every analyzer when none
// were set).
func (db *DB) Policy(ctx context.Context, tenant glasshouse.TenantID) (*glasshouse.Policy, error) {
	const op = "postgres.Policy"
	p := &glasshouse.Policy{Tenant: tenant}
	var an sql.NullString
	var updated int64
	err := db.r.QueryRowContext(ctx, `SELECT quota_bytes, analyzers, set_by, updated FROM gh_policy WHERE tenant = ?`, string(tenant)).
		Scan(&p.QuotaBytes, &an, &p.SetBy, &updated)
	if err == sql.ErrNoRows {
		return p, nil
	}
	if err != nil {
		return nil, mapErr(op, err, "")
	}
	p.Updated = fromNS(updated)
	if an.Valid {
		if err := json.Unmarshal([]byte(an.String), &p.Analyzers); err != nil {
			return nil, glasshouse.E(op, glasshouse.ErrCorrupt, err, "analyzers of tenant "+string(tenant))
		}
		if p.Analyzers == nil {
			p.Analyzers = []string{}
		}
	}
	return p, nil
}

// SetPolicy stores the tenant's limits and appends ev.
func (db *DB) SetPolicy(ctx context.Context, p *glasshouse.Policy, ev glasshouse.AuditEvent) error {
	const op = "postgres.SetPolicy"
	if p.Tenant == "" || p.QuotaBytes < 0 {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "a policy needs a tenant and a quota >= 0")
	}
	var an any
	if p.Analyzers != nil {
		b, _ := json.Marshal(p.Analyzers)
		an = string(b)
	}
	return db.writeTx(ctx, op, func(tx *Tx) error {
		// No upload or delete of the tenant is in flight while the
		// running total is recomputed.
		if err := lockQuota(ctx, tx, op, p.Tenant, false); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO gh_policy (tenant, quota_bytes, analyzers, set_by, updated, stored_bytes)
			VALUES (?1, ?2, ?3, ?4, ?5, (SELECT coalesce(sum(size), 0)::bigint FROM gh_assets WHERE tenant = ?1))
			ON CONFLICT (tenant) DO UPDATE SET quota_bytes = excluded.quota_bytes, analyzers = excluded.analyzers,
			set_by = excluded.set_by, updated = excluded.updated, stored_bytes = excluded.stored_bytes`,
			string(p.Tenant), p.QuotaBytes, an, p.SetBy, toNS(db.now()))
		if err != nil {
			return mapErr(op, err, "store policy")
		}
		_, err = db.appendTx(ctx, tx, op, ev)
		return err
	})
}

// ---------------------------------------------------------------------------
// Usage

// Tenants lists every tenant that stores, stored, or did anything.
func (db *DB) Tenants(ctx context.Context) ([]glasshouse.TenantID, error) {
	const op = "postgres.Tenants"
	rows, err := db.r.QueryContext(ctx, `SELECT tenant FROM gh_assets UNION SELECT tenant FROM gh_deletions
		UNION SELECT tenant FROM gh_policy UNION SELECT DISTINCT tenant FROM gh_audit ORDER BY 1`)
	if err != nil {
		return nil, mapErr(op, err, "")
	}
	defer rows.Close()
	var out []glasshouse.TenantID
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, mapErr(op, err, "")
		}
		if t != "" {
			out = append(out, glasshouse.TenantID(t))
		}
	}
	return out, mapErr(op, rows.Err(), "")
}

// UsageReport computes the figures of tenant ("" for all tenants together)
// for the days from..to (UTC midnights, to inclusive). Stored bytes per day
// come from the assets' creation times and the deletion records; counts of
// analyses, searches, exports, uploads and deletions from the audit log.
// Only figures leave this function, never names of content.
func (db *DB) UsageReport(ctx context.Context, tenant glasshouse.TenantID, from, to time.Time) (*glasshouse.Usage, error) {
	const op = "postgres.UsageReport"
	from, to = from.UTC().Truncate(24*time.Hour), to.UTC().Truncate(24*time.Hour)
	if to.Before(from) {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "to (%s) is before from (%s)", to.Format(time.DateOnly), from.Format(time.DateOnly))
	}
	if days := to.Sub(from)/(24*time.Hour) + 1; days > 3700 {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "period of %d days is longer than ten years", days)
	}
	u := &glasshouse.Usage{Tenant: tenant, From: from.Format(time.DateOnly), To: to.Format(time.DateOnly), Analyses: map[string]int{}, Kinds: []glasshouse.KindUsage{}}
	t := string(tenant)

	// One snapshot for all three queries.
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return nil, mapErr(op, err, "begin")
	}
	defer tx.Rollback()

	// Stored bytes: +size on the day an asset was stored, -size on the day
	// it was deleted; the running sum at the end of each day.
	rows, err := tx.QueryContext(ctx, `SELECT d, sum(delta)::bigint FROM (
			SELECT created / ?1::bigint AS d, size AS delta FROM gh_assets WHERE (?2 = '' OR tenant = ?2)
			UNION ALL SELECT created / ?1::bigint, size FROM gh_deletions WHERE (?2 = '' OR tenant = ?2)
			UNION ALL SELECT deleted / ?1::bigint, -size FROM gh_deletions WHERE (?2 = '' OR tenant = ?2)
		) s GROUP BY d ORDER BY d`, dayNS, t)
	if err != nil {
		return nil, mapErr(op, err, "stored bytes")
	}
	type dd struct{ day, delta int64 }
	var deltas []dd
	for rows.Next() {
		var x dd
		if err := rows.Scan(&x.day, &x.delta); err != nil {
			rows.Close()
			return nil, mapErr(op, err, "stored bytes")
		}
		deltas = append(deltas, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err, "stored bytes")
	}
	var run int64
	i := 0
	for d := from; !d.After(to); d = d.Add(24 * time.Hour) {
		day := d.UnixNano() / dayNS
		for i < len(deltas) && deltas[i].day <= day {
			run += deltas[i].delta
			i++
		}
		u.StoredBytes = append(u.StoredBytes, glasshouse.DayBytes{Day: d.Format(time.DateOnly), Bytes: run})
	}

	// What is stored now, by kind.
	rows, err = tx.QueryContext(ctx, `SELECT kind, count(*), coalesce(sum(size), 0)::bigint,
			coalesce(sum(CASE WHEN probe IS NULL OR probe = '' THEN 0 ELSE coalesce((probe::jsonb->>'duration_ms')::numeric, 0) END), 0)::bigint
		FROM gh_assets WHERE (?1 = '' OR tenant = ?1) GROUP BY kind ORDER BY kind`, t)
	if err != nil {
		return nil, mapErr(op, err, "kinds")
	}
	for rows.Next() {
		var k glasshouse.KindUsage
		var kind string
		var ms int64
		if err := rows.Scan(&kind, &k.Assets, &k.Bytes, &ms); err != nil {
			rows.Close()
			return nil, mapErr(op, err, "kinds")
		}
		k.Kind, k.MediaHours = glasshouse.MediaKind(kind), float64(ms)/3.6e6
		u.Kinds = append(u.Kinds, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err, "kinds")
	}

	// Counts from the audit log. Its times are RFC 3339 UTC text, so day
	// strings compare in order bytewise (COLLATE "C", as the index).
	rows, err = tx.QueryContext(ctx, `SELECT action, CASE WHEN action = 'analyze' THEN coalesce(detail::jsonb->>'analyzer', '') ELSE '' END, count(*)
		FROM gh_audit WHERE (?1 = '' OR tenant = ?1) AND action IN ('analyze', 'search', 'export', 'upload', 'delete')
		AND time COLLATE "C" >= ?2 AND time COLLATE "C" < ?3 GROUP BY 1, 2`, t, from.Format(time.DateOnly), to.Add(24*time.Hour).Format(time.DateOnly))
	if err != nil {
		return nil, mapErr(op, err, "audit counts")
	}
	defer rows.Close()
	for rows.Next() {
		var action, analyzer string
		var n int
		if err := rows.Scan(&action, &analyzer, &n); err != nil {
			return nil, mapErr(op, err, "audit counts")
		}
		switch action {
		case "analyze":
			u.Analyses[analyzer] += n
		case "search":
			u.Searches += n
		case "export":
			u.Exports += n
		case "upload":
			u.Uploads += n
		case "delete":
			u.Deletions += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err, "audit counts")
	}
	sort.Slice(u.Kinds, func(i, j int) bool { return u.Kinds[i].Kind < u.Kinds[j].Kind })
	return u, nil
}
