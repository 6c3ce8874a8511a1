package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
)

// DefaultMaxAttempts is used for a job enqueued with MaxAttempts 0.
const DefaultMaxAttempts = 3

// MaxJobsListed caps Jobs.
const MaxJobsListed = 1000

const jobCols = `id, tenant, asset, kind, version, state, attempts, max_attempts, run_after, progress, last_error, created, updated`

func scanJob(sc interface{ Scan(...any) error }) (glasshouse.Job, error) {
	var j glasshouse.Job
	var tenant, asset, state string
	var runAfter, created, updated int64
	err := sc.Scan(&j.ID, &tenant, &asset, &j.Kind, &j.Version, &state, &j.Attempts, &j.MaxAttempts, &runAfter, &j.Progress, &j.LastError, &created, &updated)
	j.Tenant = glasshouse.TenantID(tenant)
	j.Asset = glasshouse.AssetID(asset)
	j.State = glasshouse.JobState(state)
	j.RunAfter = fromNS(runAfter)
	j.Created = fromNS(created)
	j.Updated = fromNS(updated)
	return j, err
}

// Enqueue adds jobs in one transaction. It is idempotent on (asset, kind,
// version): a job that exists, in any state, is left as it is. Each job's
// asset must exist and belong to the job's tenant (ErrNotExist otherwise).
// State is always queued; a zero RunAfter means now, MaxAttempts 0 means
// DefaultMaxAttempts.
func (db *DB) Enqueue(ctx context.Context, jobs ...glasshouse.Job) error {
	const op = "sqlite.Enqueue"
	if len(jobs) == 0 {
		return nil
	}
	return db.writeTx(ctx, op, func(tx *sql.Tx) error {
		for _, j := range jobs {
			if err := assetExists(ctx, tx, op, j.Tenant, j.Asset); err != nil {
				return err
			}
		}
		return db.enqueueTx(ctx, tx, op, jobs)
	})
}

func (db *DB) enqueueTx(ctx context.Context, tx *sql.Tx, op string, jobs []glasshouse.Job) error {
	now := toNS(db.now())
	for _, j := range jobs {
		if j.Kind == "" || j.Asset == "" || j.Tenant == "" {
			return glasshouse.Errorf(op, glasshouse.ErrInvalid, "job needs a kind, an asset and a tenant")
		}
		if j.MaxAttempts < 0 {
			return glasshouse.Errorf(op, glasshouse.ErrInvalid, "job %s/%s: negative max attempts", j.Asset, j.Kind)
		}
		maxAtt := j.MaxAttempts
		if maxAtt == 0 {
			maxAtt = DefaultMaxAttempts
		}
		runAfter := toNS(j.RunAfter)
		if runAfter == 0 {
			runAfter = now
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO gh_jobs (tenant, asset, kind, version, state, attempts, max_attempts, run_after, created, updated)
			VALUES (?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?)
			ON CONFLICT (asset, kind, version) DO NOTHING`,
			string(j.Tenant), string(j.Asset), j.Kind, j.Version, maxAtt, runAfter, now, now)
		if err != nil {
			return mapErr(op, err, fmt.Sprintf("enqueue %s/%s@%s", j.Asset, j.Kind, j.Version))
		}
	}
	return nil
}

func newToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// Claim leases up to max due jobs of the given kinds (all kinds if kinds is
// empty): queued jobs whose RunAfter has come, and running jobs whose lease
// has expired (their worker died). Each claimed job gets a fresh random
// token, Expires = now + lease, and Attempts + 1. A running job whose lease
// expired with its attempts used up is marked failed instead. Jobs are taken
// oldest RunAfter first.
func (db *DB) Claim(ctx context.Context, kinds []string, max int, lease time.Duration) ([]*glasshouse.Lease, error) {
	const op = "sqlite.Claim"
	if max <= 0 {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "max must be positive, not %d", max)
	}
	if lease <= 0 {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "lease must be positive, not %s", lease)
	}
	var out []*glasshouse.Lease
	err := db.writeTx(ctx, op, func(tx *sql.Tx) error {
		out = nil
		nowT := db.now()
		now := toNS(nowT)
		kindSQL := ""
		var kargs []any
		if len(kinds) > 0 {
			kindSQL = ` AND kind IN (?` + strings.Repeat(`, ?`, len(kinds)-1) + `)`
			for _, k := range kinds {
				kargs = append(kargs, k)
			}
		}
		// Workers that died holding their last attempt: give up on the job.
		args := append([]any{now, now}, kargs...)
		if _, err := tx.ExecContext(ctx, `UPDATE gh_jobs SET state = 'failed', lease_token = '', updated = ?,
				last_error = CASE WHEN last_error = '' THEN 'lease expired: worker lost' ELSE last_error || '; lease expired: worker lost' END
			WHERE state = 'running' AND lease_expires <= ? AND attempts >= max_attempts`+kindSQL, args...); err != nil {
			return mapErr(op, err, "fail expired jobs")
		}
		args = append([]any{now, now}, kargs...)
		args = append(args, max)
		rows, err := tx.QueryContext(ctx, `SELECT id FROM gh_jobs
			WHERE ((state = 'queued' AND run_after <= ?) OR (state = 'running' AND lease_expires <= ?))`+kindSQL+`
			ORDER BY run_after, id LIMIT ?`, args...)
		if err != nil {
			return mapErr(op, err, "select due jobs")
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return mapErr(op, err, "select due jobs")
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return mapErr(op, err, "select due jobs")
		}
		expires := nowT.Add(lease)
		for _, id := range ids {
			tok, err := newToken()
			if err != nil {
				return glasshouse.E(op, glasshouse.ErrUnavailable, err, "lease token")
			}
			j, err := scanJob(tx.QueryRowContext(ctx, `UPDATE gh_jobs SET state = 'running', attempts = attempts + 1, lease_token = ?,
				lease_expires = ?, updated = ? WHERE id = ? RETURNING `+jobCols, tok, toNS(expires), now, id))
			if err != nil {
				return mapErr(op, err, fmt.Sprintf("claim job %d", id))
			}
			out = append(out, &glasshouse.Lease{Job: j, Token: tok, Expires: fromNS(toNS(expires))})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// leaseLost is the error for a token that no longer holds its job.
func (db *DB) leaseLost(ctx context.Context, tx *sql.Tx, op string, l *glasshouse.Lease) error {
	var state, tok string
	err := tx.QueryRowContext(ctx, `SELECT state, lease_token FROM gh_jobs WHERE id = ?`, l.Job.ID).Scan(&state, &tok)
	if err == sql.ErrNoRows {
		return glasshouse.E(op, glasshouse.ErrConflict, glasshouse.ErrNotExist, fmt.Sprintf("lease on job %d lost: the job no longer exists", l.Job.ID))
	}
	if err != nil {
		return mapErr(op, err, fmt.Sprintf("job %d", l.Job.ID))
	}
	if state == string(glasshouse.JobRunning) && tok != "" {
		return glasshouse.Errorf(op, glasshouse.ErrConflict, "lease on job %d lost: another worker holds it", l.Job.ID)
	}
	return glasshouse.Errorf(op, glasshouse.ErrConflict, "lease on job %d lost: the job is %s", l.Job.ID, state)
}

// withLease runs update (an UPDATE ... WHERE id = ? AND lease_token = ? AND
// state = 'running' statement whose last two arguments are the id and token)
// and reports a lost lease if it matched nothing.
func (db *DB) withLease(ctx context.Context, op string, l *glasshouse.Lease, update string, args ...any) error {
	if l == nil || l.Token == "" {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "no lease")
	}
	return db.writeTx(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, update, append(args, l.Job.ID, l.Token)...)
		if err != nil {
			return mapErr(op, err, fmt.Sprintf("job %d", l.Job.ID))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return db.leaseLost(ctx, tx, op, l)
		}
		return nil
	})
}

const leaseWhere = ` WHERE id = ? AND lease_token = ? AND state = 'running'`

// Extend moves the lease's expiry to now + d.
func (db *DB) Extend(ctx context.Context, l *glasshouse.Lease, d time.Duration) error {
	const op = "sqlite.Extend"
	if d <= 0 {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "extension must be positive, not %s", d)
	}
	now := db.now()
	exp := fromNS(toNS(now.Add(d)))
	if err := db.withLease(ctx, op, l, `UPDATE gh_jobs SET lease_expires = ?, updated = ?`+leaseWhere, toNS(exp), toNS(now)); err != nil {
		return err
	}
	l.Expires = exp
	return nil
}

// SetProgress records the fraction done (clamped to 0..1).
func (db *DB) SetProgress(ctx context.Context, l *glasshouse.Lease, frac float64) error {
	const op = "sqlite.SetProgress"
	frac = min(max(frac, 0), 1)
	if frac != frac { // NaN
		frac = 0
	}
	if err := db.withLease(ctx, op, l, `UPDATE gh_jobs SET progress = ?, updated = ?`+leaseWhere, frac, toNS(db.now())); err != nil {
		return err
	}
	l.Job.Progress = frac
	return nil
}

// Ack marks the leased job done.
func (db *DB) Ack(ctx context.Context, l *glasshouse.Lease) error {
	const op = "sqlite.Ack"
	if err := db.withLease(ctx, op, l, `UPDATE gh_jobs SET state = 'done', progress = 1, lease_token = '', lease_expires = 0, updated = ?`+leaseWhere,
		toNS(db.now())); err != nil {
		return err
	}
	l.Job.State = glasshouse.JobDone
	l.Job.Progress = 1
	return nil
}

// Nack returns the leased job to the queue to run after retryAfter, with
// cause recorded as LastError, or marks it failed when Attempts has reached
// MaxAttempts.
func (db *DB) Nack(ctx context.Context, l *glasshouse.Lease, retryAfter time.Duration, cause error) error {
	const op = "sqlite.Nack"
	if retryAfter < 0 {
		retryAfter = 0
	}
	msg := "unknown error"
	if cause != nil {
		msg = cause.Error()
	}
	if len(msg) > 4096 {
		msg = msg[:4096]
	}
	now := db.now()
	return db.withLease(ctx, op, l, `UPDATE gh_jobs SET
			state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
			run_after = ?, last_error = ?, lease_token = '', lease_expires = 0, progress = 0, updated = ?`+leaseWhere,
		toNS(now.Add(retryAfter)), msg, toNS(now))
}

// Jobs lists the tenant's jobs of asset (all the tenant's jobs if asset is
// ""), newest first, at most MaxJobsListed.
func (db *DB) Jobs(ctx context.Context, tenant glasshouse.TenantID, asset glasshouse.AssetID) ([]glasshouse.Job, error) {
	const op = "sqlite.Jobs"
	q := `SELECT ` + jobCols + ` FROM gh_jobs WHERE tenant = ?`
	args := []any{string(tenant)}
	if asset != "" {
		q += ` AND asset = ?`
		args = append(args, string(asset))
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, MaxJobsListed)
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr(op, err, "")
	}
	defer rows.Close()
	out := []glasshouse.Job{}
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, mapErr(op, err, "")
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err, "")
	}
	return out, nil
}

// JobCounts returns the number of jobs in each state, over all tenants
// (every state is present, possibly 0).
func (db *DB) JobCounts(ctx context.Context) (map[glasshouse.JobState]int, error) {
	const op = "sqlite.JobCounts"
	out := map[glasshouse.JobState]int{glasshouse.JobQueued: 0, glasshouse.JobRunning: 0, glasshouse.JobDone: 0, glasshouse.JobFailed: 0}
	rows, err := db.r.QueryContext(ctx, `SELECT state, count(*) FROM gh_jobs GROUP BY state`)
	if err != nil {
		return nil, mapErr(op, err, "")
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, mapErr(op, err, "")
		}
		out[glasshouse.JobState(s)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err, "")
	}
	return out, nil
}

// ResetRunning returns every running job to the queue, due now, and returns
// how many it changed. It is for the start of a single-process server, where
// no other worker can hold a lease: the interrupted attempt still counts, so
// a job whose attempts are used up is marked failed instead.
func (db *DB) ResetRunning(ctx context.Context) (int, error) {
	const op = "sqlite.ResetRunning"
	var n int64
	err := db.writeTx(ctx, op, func(tx *sql.Tx) error {
		now := toNS(db.now())
		res, err := tx.ExecContext(ctx, `UPDATE gh_jobs SET
				state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
				last_error = CASE WHEN attempts >= max_attempts THEN 'interrupted by restart' ELSE last_error END,
				run_after = ?, lease_token = '', lease_expires = 0, progress = 0, updated = ?
			WHERE state = 'running'`, now, now)
		if err != nil {
			return mapErr(op, err, "")
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, err
	}
	if n > 0 {
		db.log.Info("requeued jobs left running by a previous process", "jobs", n)
	}
	return int(n), nil
}

// RetryFailed puts the tenant's failed jobs (of asset, or all if asset is "")
// back in the queue with fresh attempts, and returns how many.
func (db *DB) RetryFailed(ctx context.Context, tenant glasshouse.TenantID, asset glasshouse.AssetID) (int, error) {
	const op = "sqlite.RetryFailed"
	var n int64
	err := db.writeTx(ctx, op, func(tx *sql.Tx) error {
		now := toNS(db.now())
		q := `UPDATE gh_jobs SET state = 'queued', attempts = 0, run_after = ?, progress = 0, updated = ? WHERE state = 'failed' AND tenant = ?`
		args := []any{now, now, string(tenant)}
		if asset != "" {
			q += ` AND asset = ?`
			args = append(args, string(asset))
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return mapErr(op, err, "")
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return int(n), err
}
