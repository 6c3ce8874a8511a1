package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
)

// Append adds ev to the chain: it assigns Seq (previous + 1), Time (now,
// UTC), PrevHash (the previous event's Hash, "" for the first) and Hash.
// ev.Action must not be empty.
func (db *DB) Append(ctx context.Context, ev glasshouse.AuditEvent) (glasshouse.AuditEvent, error) {
	const op = "postgres.Append"
	var out glasshouse.AuditEvent
	err := db.writeTx(ctx, op, func(tx *Tx) error {
		var err error
		out, err = db.appendTx(ctx, tx, op, ev)
		return err
	})
	return out, err
}

// appendTx appends ev inside tx, which must be a write (IMMEDIATE)
// transaction so that no other writer can take the same Seq.
// auditLock is the advisory lock key of the audit chain head.
const auditLock = 0x6175646974 // "audit"

func (db *DB) appendTx(ctx context.Context, tx *Tx, op string, ev glasshouse.AuditEvent) (glasshouse.AuditEvent, error) {
	if strings.TrimSpace(ev.Action) == "" {
		return ev, glasshouse.Errorf(op, glasshouse.ErrInvalid, "audit event has no action")
	}
	if len(ev.Detail) > 0 && !json.Valid(ev.Detail) {
		return ev, glasshouse.Errorf(op, glasshouse.ErrInvalid, "audit event detail is not valid JSON")
	}
	// One chain for the whole database: appends are serialised by a
	// transaction-scoped advisory lock, taken last in every transaction
	// that appends, so it is held only until commit.
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, auditLock); err != nil {
		return ev, mapErr(op, err, "lock chain head")
	}
	var prevSeq int64
	var prevHash string
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM gh_audit ORDER BY seq DESC LIMIT 1`).Scan(&prevSeq, &prevHash)
	if err != nil && err != sql.ErrNoRows {
		return ev, mapErr(op, err, "read chain head")
	}
	ev.Seq = prevSeq + 1
	ev.Time = db.now().UTC()
	ev.PrevHash = prevHash
	ev.Hash = ev.ComputeHash()
	var detail any
	if len(ev.Detail) > 0 {
		detail = string(ev.Detail)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO gh_audit (seq, time, tenant, actor, remote, action, target, detail, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ev.Seq, ev.Time.Format(time.RFC3339Nano), string(ev.Tenant), ev.Actor, ev.Remote, ev.Action, ev.Target, detail, ev.PrevHash, ev.Hash)
	if err != nil {
		return ev, mapErr(op, err, fmt.Sprintf("insert audit event %d", ev.Seq))
	}
	return ev, nil
}

const auditCols = `seq, time, tenant, actor, remote, action, target, detail, prev_hash, hash`

func scanEvent(sc interface{ Scan(...any) error }) (glasshouse.AuditEvent, error) {
	var ev glasshouse.AuditEvent
	var ts, tenant string
	var detail sql.NullString
	if err := sc.Scan(&ev.Seq, &ts, &tenant, &ev.Actor, &ev.Remote, &ev.Action, &ev.Target, &detail, &ev.PrevHash, &ev.Hash); err != nil {
		return ev, err
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return ev, glasshouse.E("postgres.scanEvent", glasshouse.ErrCorrupt, err, fmt.Sprintf("audit event %d has a malformed time", ev.Seq))
	}
	ev.Time = t.UTC()
	ev.Tenant = glasshouse.TenantID(tenant)
	if detail.Valid && detail.String != "" {
		ev.Detail = json.RawMessage(detail.String)
	}
	return ev, nil
}

// Events returns the events with Seq > after, in Seq order, at most limit
// (0: all). tenant "" means every tenant.
func (db *DB) Events(ctx context.Context, tenant glasshouse.TenantID, after int64, limit int) ([]glasshouse.AuditEvent, error) {
	const op = "postgres.Events"
	if limit < 0 {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "negative limit %d", limit)
	}
	q := `SELECT ` + auditCols + ` FROM gh_audit WHERE seq > ?`
	args := []any{after}
	if tenant != "" {
		q += ` AND tenant = ?`
		args = append(args, string(tenant))
	}
	q += ` ORDER BY seq`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	return db.queryEvents(ctx, op, q, args...)
}

// ListEventsForVerify returns up to limit events of every tenant with
// Seq > after, in Seq order, exactly as stored. It is the audit.EventSource
// used by audit.Verify and audit.Export.
func (db *DB) ListEventsForVerify(ctx context.Context, after int64, limit int) ([]glasshouse.AuditEvent, error) {
	if limit <= 0 {
		limit = 1000
	}
	return db.queryEvents(ctx, "postgres.ListEventsForVerify",
		`SELECT `+auditCols+` FROM gh_audit WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
}

func (db *DB) queryEvents(ctx context.Context, op, q string, args ...any) ([]glasshouse.AuditEvent, error) {
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr(op, err, "query audit events")
	}
	defer rows.Close()
	out := []glasshouse.AuditEvent{}
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, mapErr(op, err, "scan audit event")
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err, "query audit events")
	}
	return out, nil
}

// AuditHead returns the Seq and Hash of the last event (0 and "" if none),
// for anchoring the chain outside the database.
func (db *DB) AuditHead(ctx context.Context) (seq int64, hash string, err error) {
	err = db.r.QueryRowContext(ctx, `SELECT seq, hash FROM gh_audit ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	if err == sql.ErrNoRows {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", mapErr("postgres.AuditHead", err, "")
	}
	return seq, hash, nil
}
