package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/auth"
	"github.com/glasshouse/glasshouse/redact"
)

// Import* copy records verbatim from another backend (glasshouse migrate):
// no audit event is appended for them, since the source's audit chain is
// copied event by event with ImportAuditEvents and must stay the same
// chain.

// ImportCounts returns the number of assets and audit events stored, to
// check a migration target is empty and, after, complete.
func (db *DB) ImportCounts(ctx context.Context) (assets, results, events int, err error) {
	err = db.r.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM gh_assets), (SELECT count(*) FROM gh_results), (SELECT count(*) FROM gh_audit)`).
		Scan(&assets, &results, &events)
	if err != nil {
		err = mapErr("postgres.ImportCounts", err, "")
	}
	return
}

// ImportAsset stores an asset with its results, analyzer runs and jobs (in
// their states) in one transaction.
func (db *DB) ImportAsset(ctx context.Context, a *glasshouse.Asset, results []*glasshouse.Result, jobs []glasshouse.Job) error {
	const op = "postgres.ImportAsset"
	probe, err := probeJSON(a.Probe)
	if err != nil {
		return glasshouse.E(op, glasshouse.ErrInvalid, err, "encode probe")
	}
	return db.writeTx(ctx, op, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO gh_assets (`+assetCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			string(a.ID), string(a.Tenant), a.Collection, a.Name, a.MediaType, string(a.Kind), a.Size, string(a.Hash), probe,
			string(a.Thumb), string(a.Poster), a.Note, boolInt(a.LegalHold), toNS(a.Created)); err != nil {
			return mapErr(op, err, "insert asset "+string(a.ID))
		}
		if _, err := tx.ExecContext(ctx, `UPDATE gh_policy SET stored_bytes = stored_bytes + ? WHERE tenant = ?`, a.Size, string(a.Tenant)); err != nil {
			return mapErr(op, err, "stored bytes of tenant "+string(a.Tenant))
		}
		for _, r := range results {
			runJSON, _ := json.Marshal(r.Run)
			insJSON, _ := json.Marshal(r.Insights)
			blobs := r.Blobs
			if blobs == nil {
				blobs = []glasshouse.Ref{}
			}
			blobsJSON, _ := json.Marshal(blobs)
			if _, err := tx.ExecContext(ctx, `INSERT INTO gh_results (asset, analyzer, tenant, run, insights, blobs) VALUES (?, ?, ?, ?, ?, ?)`,
				string(a.ID), r.Run.Name, string(a.Tenant), string(runJSON), string(insJSON), string(blobsJSON)); err != nil {
				return mapErr(op, err, "insert result "+r.Run.Name)
			}
			for _, ref := range resultRefs(r) {
				if _, err := tx.ExecContext(ctx, `INSERT INTO gh_result_blobs (asset, analyzer, ref) VALUES (?, ?, ?)`, string(a.ID), r.Run.Name, ref); err != nil {
					return mapErr(op, err, "insert result blob")
				}
			}
		}
		for _, run := range a.Runs {
			if err := db.upsertRun(ctx, tx, op, a.ID, run); err != nil {
				return err
			}
		}
		if len(jobs) == 0 {
			return nil
		}
		if err := db.enqueueTx(ctx, tx, op, jobs); err != nil {
			return err
		}
		for _, j := range jobs {
			state, final := "available", false
			switch j.State {
			case glasshouse.JobDone:
				state, final = "completed", true
			case glasshouse.JobFailed:
				state, final = "discarded", true
			}
			// A job that was running in the source has no live worker
			// any more: it is queued again.
			var errs any
			if j.LastError != "" {
				b, _ := json.Marshal([]map[string]any{{"at": j.Updated.UTC().Format(time.RFC3339Nano), "attempt": j.Attempts, "error": j.LastError}})
				errs = string(b)
			}
			_, err := tx.tx.ExecContext(ctx, `UPDATE river_job SET state = $1::river_job_state, attempt = $2,
					finalized_at = CASE WHEN $3 THEN coalesce($4, now()) END, created_at = $5,
					errors = CASE WHEN $6::text IS NULL THEN errors ELSE ARRAY(SELECT jsonb_array_elements($6::jsonb)) END
				WHERE kind = 'glasshouse_analyze' AND args->>'asset' = $7 AND args->>'kind' = $8 AND args->>'version' = $9`,
				state, j.Attempts, final, j.Updated, j.Created, errs, string(a.ID), j.Kind, j.Version)
			if err != nil {
				return mapErr(op, err, fmt.Sprintf("job %s/%s state", a.ID, j.Kind))
			}
		}
		return nil
	})
}

// ImportAuditEvents appends events exactly as they are (Seq, Time, hashes);
// they must continue the stored chain.
func (db *DB) ImportAuditEvents(ctx context.Context, evs []glasshouse.AuditEvent) error {
	const op = "postgres.ImportAuditEvents"
	return db.writeTx(ctx, op, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, auditLock); err != nil {
			return mapErr(op, err, "lock chain head")
		}
		for _, ev := range evs {
			var detail any
			if len(ev.Detail) > 0 {
				detail = string(ev.Detail)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO gh_audit (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				ev.Seq, ev.Time.UTC().Format(time.RFC3339Nano), string(ev.Tenant), ev.Actor, ev.Remote, ev.Action, ev.Target, detail, ev.PrevHash, ev.Hash); err != nil {
				return mapErr(op, err, fmt.Sprintf("insert audit event %d", ev.Seq))
			}
		}
		return nil
	})
}

// ImportAccounts copies tenants, users (with their password hashes) and API
// tokens verbatim, without audit events (the source chain already holds
// the events that created them). Sessions are not copied: users sign in
// again.
func (db *DB) ImportAccounts(ctx context.Context, tenants []auth.Tenant, users []auth.User, tokens []auth.Token) error {
	const op = "postgres.ImportAccounts"
	return db.writeTx(ctx, op, func(tx *Tx) error {
		for _, t := range tenants {
			if _, err := tx.ExecContext(ctx, `INSERT INTO gh_tenants (id, name, created) VALUES (?, ?, ?)`, string(t.ID), t.Name, toNS(t.Created)); err != nil {
				return mapErr(op, err, "tenant "+string(t.ID))
			}
		}
		for _, u := range users {
			if _, err := tx.ExecContext(ctx, `INSERT INTO gh_users (name, tenant, role, password_hash, disabled, created) VALUES (?, ?, ?, ?, ?, ?)`,
				u.Name, string(u.Tenant), string(u.Role), u.PasswordHash, boolInt(u.Disabled), toNS(u.Created)); err != nil {
				return mapErr(op, err, "user "+u.Name)
			}
		}
		for _, t := range tokens {
			if _, err := tx.ExecContext(ctx, `INSERT INTO gh_tokens (id, tenant, username, name, scope, hash, created, expires, revoked, last_used)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, t.ID, string(t.Tenant), t.User, t.Name, string(t.Scope), t.Hash,
				toNS(t.Created), toNS(t.Expires), toNS(t.Revoked), toNS(t.LastUsed)); err != nil {
				return mapErr(op, err, "token "+t.ID)
			}
		}
		return nil
	})
}

// ImportGovernance copies retention rules, legal holds, deletion records
// (with their ids) and tenant policies verbatim (times, who set them), in
// one transaction and without audit events. The usage report needs no
// table of its own: it is computed from assets, deletion records and the
// audit log, all of which are copied. Asset holds also need the asset's
// legal_hold flag, which ImportAsset copies with the asset.
func (db *DB) ImportGovernance(ctx context.Context, rules []glasshouse.RetentionRule, holds []glasshouse.Hold,
	deletions []glasshouse.DeletionRecord, policies []*glasshouse.Policy) error {
	const op = "postgres.ImportGovernance"
	return db.writeTx(ctx, op, func(tx *Tx) error {
		for _, r := range rules {
			scope, coll := retScope(r.All, r.Collection)
			if _, err := tx.ExecContext(ctx, `INSERT INTO gh_retention (tenant, scope, collection, days, set_by, updated) VALUES (?, ?, ?, ?, ?, ?)`,
				string(r.Tenant), scope, coll, r.Days, r.SetBy, toNS(r.Updated)); err != nil {
				return mapErr(op, err, fmt.Sprintf("retention rule %s/%s %q", r.Tenant, scope, coll))
			}
		}
		for _, h := range holds {
			if _, err := tx.ExecContext(ctx, `INSERT INTO gh_holds (tenant, scope, target, reason, set_by, since) VALUES (?, ?, ?, ?, ?, ?)`,
				string(h.Tenant), h.Scope, h.Target, h.Reason, h.SetBy, toNS(h.Since)); err != nil {
				return mapErr(op, err, fmt.Sprintf("legal hold %s/%s %q", h.Tenant, h.Scope, h.Target))
			}
		}
		for _, r := range deletions {
			if _, err := tx.ExecContext(ctx, `INSERT INTO gh_deletions (id, tenant, asset, name, hash, size, kind, collection, duration_ms, created, deleted, actor, reason, audit_seq)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				r.ID, string(r.Tenant), string(r.Asset), r.Name, string(r.Hash), r.Size, string(r.Kind), r.Collection, r.DurationMS,
				toNS(r.Created), toNS(r.Deleted), r.Actor, r.Reason, r.AuditSeq); err != nil {
				return mapErr(op, err, fmt.Sprintf("deletion record %d", r.ID))
			}
		}
		if len(deletions) > 0 {
			// New records continue after the copied ids.
			if _, err := tx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('gh_deletions', 'id'), (SELECT max(id) FROM gh_deletions))`); err != nil {
				return mapErr(op, err, "deletion record ids")
			}
		}
		for _, p := range policies {
			var an any
			if p.Analyzers != nil {
				b, _ := json.Marshal(p.Analyzers)
				an = string(b)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO gh_policy (tenant, quota_bytes, analyzers, set_by, updated, stored_bytes)
				VALUES (?1, ?2, ?3, ?4, ?5, (SELECT coalesce(sum(size), 0)::bigint FROM gh_assets WHERE tenant = ?1))`,
				string(p.Tenant), p.QuotaBytes, an, p.SetBy, toNS(p.Updated)); err != nil {
				return mapErr(op, err, "policy of tenant "+string(p.Tenant))
			}
		}
		return nil
	})
}

// ImportRedactions copies redaction plans (with their revision and time)
// and renders (state, output, manifest, times) verbatim. Plans need their
// asset imported first; renders may name a source that no longer exists
// (they outlive it).
func (db *DB) ImportRedactions(ctx context.Context, plans []*redact.Plan, renders []*redact.Render) error {
	const op = "postgres.ImportRedactions"
	return db.writeTx(ctx, op, func(tx *Tx) error {
		for _, p := range plans {
			js, err := json.Marshal(p)
			if err != nil {
				return glasshouse.E(op, glasshouse.ErrInvalid, err, "encode plan of "+string(p.Asset))
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO gh_redact_plans (asset, tenant, plan, revision, updated) VALUES (?, ?, ?, ?, ?)`,
				string(p.Asset), string(p.Tenant), string(js), p.Revision, toNS(p.Updated)); err != nil {
				return mapErr(op, err, "plan of "+string(p.Asset))
			}
		}
		for _, r := range renders {
			plan, err := json.Marshal(r.Plan)
			if err != nil {
				return glasshouse.E(op, glasshouse.ErrInvalid, err, "encode plan of render "+r.ID)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO gh_redactions (`+renderCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				r.ID, string(r.Tenant), string(r.Source), string(r.SourceHash), string(r.Output), string(r.OutputHash), r.State, r.Error,
				string(plan), r.Requester, nullJSON(r.Manifest), toNS(r.Created), toNS(r.Updated)); err != nil {
				return mapErr(op, err, "render "+r.ID)
			}
		}
		return nil
	})
}

// RedactCounts returns the number of redaction plans and renders stored,
// to check a migration is complete.
func (db *DB) RedactCounts(ctx context.Context) (plans, renders int, err error) {
	err = db.r.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM gh_redact_plans), (SELECT count(*) FROM gh_redactions)`).Scan(&plans, &renders)
	if err != nil {
		err = mapErr("postgres.RedactCounts", err, "")
	}
	return
}
