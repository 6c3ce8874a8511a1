package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// DefaultMaxAttempts is the attempts a job gets when Job.MaxAttempts is 0.
const DefaultMaxAttempts = 3

// MaxJobsListed caps Jobs.
const MaxJobsListed = 1000

// JobKind is the River job kind of analyzer jobs.
const JobKind = "glasshouse_analyze"

// AnalyzeArgs are the River job arguments of an analyzer job: run analyzer
// Analyzer at Version on Asset. River's uniqueness (ByArgs, every state)
// makes (tenant, asset, analyzer, version) one job for ever.
type AnalyzeArgs struct {
	Tenant   string `json:"tenant"`
	Asset    string `json:"asset"`
	Analyzer string `json:"kind"`
	Version  string `json:"version"`
}

// Kind implements river.JobArgs.
func (AnalyzeArgs) Kind() string { return JobKind }

// uniqueOpts: a job of the same arguments in any state (done and failed
// included) is not inserted again, like the embedded queue's UNIQUE.
var uniqueOpts = river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStateCancelled, rivertype.JobStateCompleted, rivertype.JobStateDiscarded,
	rivertype.JobStatePending, rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled,
}}

// jobCols reads a river_job row as a glasshouse.Job (see scanJob). River's
// states map to glasshouse's: available, scheduled, retryable and pending
// are queued; completed is done; discarded and cancelled are failed.
const jobCols = `id, args->>'tenant', args->>'asset', args->>'kind', args->>'version',
	CASE state WHEN 'running' THEN 'running' WHEN 'completed' THEN 'done' WHEN 'discarded' THEN 'failed' WHEN 'cancelled' THEN 'failed' ELSE 'queued' END,
	attempt, max_attempts, scheduled_at, coalesce((metadata->>'progress')::float8, 0),
	coalesce(errors[array_length(errors, 1)]->>'error', ''), created_at, coalesce(finalized_at, attempted_at, created_at)`

func scanJob(sc interface{ Scan(...any) error }) (glasshouse.Job, error) {
	var j glasshouse.Job
	var tenant, asset, state string
	var runAfter, created, updated time.Time
	err := sc.Scan(&j.ID, &tenant, &asset, &j.Kind, &j.Version, &state, &j.Attempts, &j.MaxAttempts, &runAfter, &j.Progress, &j.LastError, &created, &updated)
	j.Tenant = glasshouse.TenantID(tenant)
	j.Asset = glasshouse.AssetID(asset)
	j.State = glasshouse.JobState(state)
	j.RunAfter = runAfter.UTC()
	j.Created = created.UTC()
	j.Updated = updated.UTC()
	return j, err
}

// Enqueue adds jobs (as River jobs) for existing assets. Idempotent on
// (asset, kind, version): a job that exists in any state is not added again.
func (db *DB) Enqueue(ctx context.Context, jobs ...glasshouse.Job) error {
	const op = "postgres.Enqueue"
	if len(jobs) == 0 {
		return nil
	}
	return db.writeTx(ctx, op, func(tx *Tx) error {
		for _, j := range jobs {
			if err := assetExists(ctx, tx, op, j.Tenant, j.Asset); err != nil {
				return err
			}
		}
		return db.enqueueTx(ctx, tx, op, jobs)
	})
}

func (db *DB) enqueueTx(ctx context.Context, tx *Tx, op string, jobs []glasshouse.Job) error {
	seen := map[AnalyzeArgs]bool{}
	var params []river.InsertManyParams
	for _, j := range jobs {
		if j.Kind == "" || j.Asset == "" || j.Tenant == "" {
			return glasshouse.Errorf(op, glasshouse.ErrInvalid, "job needs a kind, an asset and a tenant")
		}
		if j.MaxAttempts < 0 {
			return glasshouse.Errorf(op, glasshouse.ErrInvalid, "job %s/%s: negative max attempts", j.Asset, j.Kind)
		}
		args := AnalyzeArgs{Tenant: string(j.Tenant), Asset: string(j.Asset), Analyzer: j.Kind, Version: j.Version}
		if seen[args] {
			continue // one batch must not hold the same unique job twice
		}
		seen[args] = true
		maxAtt := j.MaxAttempts
		if maxAtt == 0 {
			maxAtt = DefaultMaxAttempts
		}
		params = append(params, river.InsertManyParams{Args: args, InsertOpts: &river.InsertOpts{
			MaxAttempts: maxAtt, ScheduledAt: j.RunAfter, UniqueOpts: uniqueOpts,
		}})
	}
	if len(params) == 0 {
		return nil
	}
	if _, err := db.ins.InsertManyTx(ctx, tx.tx, params); err != nil {
		return mapErr(op, err, fmt.Sprintf("enqueue %d jobs", len(params)))
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

var hostname = func() string { h, _ := os.Hostname(); return h }()

// Claim leases up to max due jobs of the given analyzers (all if kinds is
// empty) for lease. Jobs whose lease expired are taken over; those whose
// worker died on their last attempt are failed. Rows are locked with SKIP
// LOCKED, so concurrent claimers (and River clients) never get the same job.
func (db *DB) Claim(ctx context.Context, kinds []string, max int, lease time.Duration) ([]*glasshouse.Lease, error) {
	const op = "postgres.Claim"
	if max <= 0 {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "max must be positive, not %d", max)
	}
	if lease <= 0 {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "lease must be positive, not %s", lease)
	}
	if kinds == nil {
		kinds = []string{}
	}
	all := len(kinds) == 0
	var out []*glasshouse.Lease
	err := db.writeTx(ctx, op, func(tx *Tx) error {
		out = nil
		nowT := db.now()
		now := toNS(nowT)
		if _, err := db.requeueExpiredTx(ctx, tx, op, nowT, kinds, false); err != nil {
			return err
		}
		rows, err := tx.tx.QueryContext(ctx, `SELECT id FROM river_job
			WHERE kind = 'glasshouse_analyze' AND ($2 OR args->>'kind' = ANY($3))
				AND ((state IN ('available', 'retryable', 'scheduled') AND scheduled_at <= $4)
					OR (state = 'running' AND (metadata->>'lease_expires')::bigint <= $1 AND coalesce(metadata->>'lease_by', '') <> 'river'))
			ORDER BY scheduled_at, id LIMIT $5 FOR UPDATE SKIP LOCKED`, now, all, kinds, nowT, max)
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
		expires := fromNS(toNS(nowT.Add(lease)))
		for _, id := range ids {
			tok, err := newToken()
			if err != nil {
				return glasshouse.E(op, glasshouse.ErrUnavailable, err, "lease token")
			}
			j, err := scanJob(tx.tx.QueryRowContext(ctx, `UPDATE river_job SET state = 'running', attempt = attempt + 1, attempted_at = now(),
				attempted_by = array_append(coalesce(attempted_by, '{}'), $2::text), finalized_at = NULL,
				metadata = (metadata - 'lease_by') || jsonb_build_object('lease_token', $3::text, 'lease_expires', $4::bigint, 'progress', 0)
				WHERE id = $1 RETURNING `+jobCols, id, hostname, tok, toNS(expires)))
			if err != nil {
				return mapErr(op, err, fmt.Sprintf("claim job %d", id))
			}
			out = append(out, &glasshouse.Lease{Job: j, Token: tok, Expires: expires})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// StampLease gives a job that a River client is running (state running) a
// lease token and expiry, so that the same heartbeat, progress and
// lost-worker rules apply as for claimed jobs (RequeueExpired).
func (db *DB) StampLease(ctx context.Context, id int64, lease time.Duration) (*glasshouse.Lease, error) {
	const op = "postgres.StampLease"
	tok, err := newToken()
	if err != nil {
		return nil, glasshouse.E(op, glasshouse.ErrUnavailable, err, "lease token")
	}
	expires := fromNS(toNS(db.now().Add(lease)))
	j, err := scanJob(db.sqldb.QueryRowContext(ctx, `UPDATE river_job SET
		metadata = metadata || jsonb_build_object('lease_token', $2::text, 'lease_expires', $3::bigint, 'progress', 0, 'lease_by', 'river')
		WHERE id = $1 AND state = 'running' RETURNING `+jobCols, id, tok, toNS(expires)))
	if err != nil {
		return nil, mapErr(op, err, fmt.Sprintf("job %d", id))
	}
	return &glasshouse.Lease{Job: j, Token: tok, Expires: expires}, nil
}

// RequeueExpired returns running jobs whose lease expired (their worker
// died, or is alive but stopped heart-beating: paused, a long GC, a network
// stall) to the queue, or fails them when their attempts are used up.
// River-mode workers call it periodically; Claim does the same first.
//
// A job a River client was running (lease stamped by StampLease) is not
// put back in place: River's completer of the stale worker would, when its
// Work returns, finalise the row while another worker runs it again. The
// expired row is cancelled instead (marked superseded_by, its unique key
// released) and the job is queued again as a new row with the same
// arguments, attempt count, errors and unique key; the stale completer
// then finds its row no longer running and changes nothing. Jobs leased
// by Claim are requeued in place (their Ack and Nack are fenced by the
// lease token).
func (db *DB) RequeueExpired(ctx context.Context) (int, error) {
	const op = "postgres.RequeueExpired"
	var n int
	err := db.writeTx(ctx, op, func(tx *Tx) error {
		var err error
		n, err = db.requeueExpiredTx(ctx, tx, op, db.now(), nil, true)
		return err
	})
	return n, err
}

// requeueExpiredTx fails expired jobs at their last attempt, supersedes
// expired River jobs with attempts left (see RequeueExpired) and, if
// inPlace, makes expired Claim-leased jobs available again. kinds limits
// it to those analyzers (nil: all).
func (db *DB) requeueExpiredTx(ctx context.Context, tx *Tx, op string, nowT time.Time, kinds []string, inPlace bool) (int, error) {
	now := toNS(nowT)
	all := len(kinds) == 0
	if kinds == nil {
		kinds = []string{}
	}
	const expired = `kind = 'glasshouse_analyze' AND state = 'running' AND (metadata->>'lease_expires')::bigint <= $1 AND ($2 OR args->>'kind' = ANY($3))`
	total := 0
	res, err := tx.tx.ExecContext(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = now(),
			errors = array_append(coalesce(errors, '{}'), jsonb_build_object('at', now(), 'attempt', attempt, 'error', 'lease expired: worker lost')),
			metadata = metadata - 'lease_token' - 'lease_expires'
		WHERE `+expired+` AND attempt >= max_attempts`, now, all, kinds)
	if err != nil {
		return 0, mapErr(op, err, "fail expired jobs")
	}
	n, _ := res.RowsAffected()
	total += int(n)

	type old struct {
		id  int64
		key []byte
	}
	rows, err := tx.tx.QueryContext(ctx, `SELECT id, unique_key FROM river_job WHERE `+expired+` AND attempt < max_attempts
		AND metadata->>'lease_by' = 'river' ORDER BY id FOR UPDATE SKIP LOCKED`, now, all, kinds)
	if err != nil {
		return 0, mapErr(op, err, "select expired river jobs")
	}
	var olds []old
	for rows.Next() {
		var o old
		if err := rows.Scan(&o.id, &o.key); err != nil {
			rows.Close()
			return 0, mapErr(op, err, "select expired river jobs")
		}
		olds = append(olds, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, mapErr(op, err, "select expired river jobs")
	}
	for _, o := range olds {
		var id int64
		err := tx.tx.QueryRowContext(ctx, `INSERT INTO river_job (args, attempt, attempted_at, attempted_by, created_at, errors, kind,
				max_attempts, metadata, priority, queue, scheduled_at, state, tags, unique_states)
			SELECT args, attempt, attempted_at, attempted_by, created_at,
				array_append(coalesce(errors, '{}'), jsonb_build_object('at', now(), 'attempt', attempt, 'error', 'lease expired: worker lost')),
				kind, max_attempts, (metadata - 'lease_token' - 'lease_expires' - 'lease_by') || jsonb_build_object('progress', 0, 'requeued_from', id),
				priority, queue, now(), 'available', tags, unique_states
			FROM river_job WHERE id = $1 RETURNING id`, o.id).Scan(&id)
		if err != nil {
			return 0, mapErr(op, err, fmt.Sprintf("requeue job %d", o.id))
		}
		if _, err := tx.tx.ExecContext(ctx, `UPDATE river_job SET state = 'cancelled', finalized_at = now(), unique_key = NULL,
				errors = array_append(coalesce(errors, '{}'), jsonb_build_object('at', now(), 'attempt', attempt, 'error', 'lease expired: worker lost; queued again as job ' || $2::bigint)),
				metadata = (metadata - 'lease_token' - 'lease_expires') || jsonb_build_object('superseded_by', $2::bigint)
			WHERE id = $1`, o.id, id); err != nil {
			return 0, mapErr(op, err, fmt.Sprintf("supersede job %d", o.id))
		}
		if o.key != nil {
			if _, err := tx.tx.ExecContext(ctx, `UPDATE river_job SET unique_key = $2 WHERE id = $1`, id, o.key); err != nil {
				return 0, mapErr(op, err, fmt.Sprintf("unique key of job %d", id))
			}
		}
		db.log.Info("job re-queued as a new row after its lease expired", "job", o.id, "new_job", id)
		total++
	}
	if !inPlace {
		return total, nil
	}
	res, err = tx.tx.ExecContext(ctx, `UPDATE river_job SET state = 'available', scheduled_at = now(),
			errors = array_append(coalesce(errors, '{}'), jsonb_build_object('at', now(), 'attempt', attempt, 'error', 'lease expired: worker lost')),
			metadata = metadata - 'lease_token' - 'lease_expires'
		WHERE `+expired+` AND attempt < max_attempts AND coalesce(metadata->>'lease_by', '') <> 'river'`, now, all, kinds)
	if err != nil {
		return 0, mapErr(op, err, "requeue expired jobs")
	}
	n, _ = res.RowsAffected()
	return total + int(n), nil
}

func (db *DB) leaseLost(ctx context.Context, op string, l *glasshouse.Lease) error {
	var state string
	var tok, next sql.NullString
	err := db.sqldb.QueryRowContext(ctx, `SELECT state::text, metadata->>'lease_token', metadata->>'superseded_by' FROM river_job WHERE id = $1`, l.Job.ID).Scan(&state, &tok, &next)
	if errors.Is(err, sql.ErrNoRows) {
		return glasshouse.E(op, glasshouse.ErrConflict, glasshouse.ErrNotExist, fmt.Sprintf("lease on job %d lost: the job no longer exists", l.Job.ID))
	}
	if err != nil {
		return mapErr(op, err, fmt.Sprintf("job %d", l.Job.ID))
	}
	if next.Valid {
		return glasshouse.Errorf(op, glasshouse.ErrConflict, "lease on job %d lost: it expired and the job was queued again as job %s", l.Job.ID, next.String)
	}
	if state == "running" && tok.String != "" {
		return glasshouse.Errorf(op, glasshouse.ErrConflict, "lease on job %d lost: another worker holds it", l.Job.ID)
	}
	return glasshouse.Errorf(op, glasshouse.ErrConflict, "lease on job %d lost: the job is %s", l.Job.ID, state)
}

// withLease runs update (with $1 = job id, $2 = token, then args) if l
// still holds the job.
func (db *DB) withLease(ctx context.Context, op string, l *glasshouse.Lease, update string, args ...any) error {
	if l == nil || l.Token == "" {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "no lease")
	}
	res, err := db.sqldb.ExecContext(ctx, update+` WHERE id = $1 AND state = 'running' AND metadata->>'lease_token' = $2`,
		append([]any{l.Job.ID, l.Token}, args...)...)
	if err != nil {
		return mapErr(op, err, fmt.Sprintf("job %d", l.Job.ID))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return db.leaseLost(ctx, op, l)
	}
	return nil
}

// Extend moves the lease's expiry to now + d.
func (db *DB) Extend(ctx context.Context, l *glasshouse.Lease, d time.Duration) error {
	const op = "postgres.Extend"
	if d <= 0 {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "extension must be positive, not %s", d)
	}
	exp := fromNS(toNS(db.now().Add(d)))
	if err := db.withLease(ctx, op, l, `UPDATE river_job SET metadata = metadata || jsonb_build_object('lease_expires', $3::bigint)`, toNS(exp)); err != nil {
		return err
	}
	l.Expires = exp
	return nil
}

// SetProgress records the job's progress (clamped to 0..1).
func (db *DB) SetProgress(ctx context.Context, l *glasshouse.Lease, frac float64) error {
	const op = "postgres.SetProgress"
	frac = min(max(frac, 0), 1)
	if frac != frac {
		frac = 0
	}
	if err := db.withLease(ctx, op, l, `UPDATE river_job SET metadata = metadata || jsonb_build_object('progress', $3::float8)`, frac); err != nil {
		return err
	}
	l.Job.Progress = frac
	return nil
}

// Ack marks the job done (River state completed).
func (db *DB) Ack(ctx context.Context, l *glasshouse.Lease) error {
	const op = "postgres.Ack"
	if err := db.withLease(ctx, op, l, `UPDATE river_job SET state = 'completed', finalized_at = now(),
		metadata = (metadata - 'lease_token' - 'lease_expires') || '{"progress": 1}'::jsonb`); err != nil {
		return err
	}
	l.Job.State = glasshouse.JobDone
	l.Job.Progress = 1
	return nil
}

// Nack returns the job to the queue after retryAfter (River state
// retryable), or fails it (discarded) when its attempts are used up.
func (db *DB) Nack(ctx context.Context, l *glasshouse.Lease, retryAfter time.Duration, cause error) error {
	const op = "postgres.Nack"
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
	return db.withLease(ctx, op, l, `UPDATE river_job SET
			state = CASE WHEN attempt >= max_attempts THEN 'discarded'::river_job_state ELSE 'retryable'::river_job_state END,
			finalized_at = CASE WHEN attempt >= max_attempts THEN now() END,
			scheduled_at = $3,
			errors = array_append(coalesce(errors, '{}'), jsonb_build_object('at', now(), 'attempt', attempt, 'error', $4::text)),
			metadata = (metadata - 'lease_token' - 'lease_expires') || '{"progress": 0}'::jsonb`,
		db.now().Add(retryAfter), msg)
}

// Jobs lists the tenant's jobs (of one asset if asset is set), newest first.
func (db *DB) Jobs(ctx context.Context, tenant glasshouse.TenantID, asset glasshouse.AssetID) ([]glasshouse.Job, error) {
	const op = "postgres.Jobs"
	q := `SELECT ` + jobCols + ` FROM river_job WHERE kind = 'glasshouse_analyze' AND metadata->>'superseded_by' IS NULL AND args->>'tenant' = $1`
	args := []any{string(tenant)}
	if asset != "" {
		q += ` AND args->>'asset' = $2`
		args = append(args, string(asset))
	}
	q += fmt.Sprintf(` ORDER BY id DESC LIMIT %d`, MaxJobsListed)
	rows, err := db.sqldb.QueryContext(ctx, q, args...)
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

// JobCounts counts analyzer jobs by state.
func (db *DB) JobCounts(ctx context.Context) (map[glasshouse.JobState]int, error) {
	const op = "postgres.JobCounts"
	out := map[glasshouse.JobState]int{glasshouse.JobQueued: 0, glasshouse.JobRunning: 0, glasshouse.JobDone: 0, glasshouse.JobFailed: 0}
	rows, err := db.sqldb.QueryContext(ctx, `SELECT CASE state WHEN 'running' THEN 'running' WHEN 'completed' THEN 'done'
			WHEN 'discarded' THEN 'failed' WHEN 'cancelled' THEN 'failed' ELSE 'queued' END AS s, count(*)
		FROM river_job WHERE kind = 'glasshouse_analyze' AND metadata->>'superseded_by' IS NULL GROUP BY s`)
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

// ResetRunning requeues every running job at once. Only for a process that
// knows it is the sole worker; scale-out workers rely on RequeueExpired.
func (db *DB) ResetRunning(ctx context.Context) (int, error) {
	const op = "postgres.ResetRunning"
	res, err := db.sqldb.ExecContext(ctx, `UPDATE river_job SET
			state = CASE WHEN attempt >= max_attempts THEN 'discarded'::river_job_state ELSE 'available'::river_job_state END,
			finalized_at = CASE WHEN attempt >= max_attempts THEN now() END,
			errors = CASE WHEN attempt >= max_attempts THEN array_append(coalesce(errors, '{}'), jsonb_build_object('at', now(), 'attempt', attempt, 'error', 'interrupted by restart')) ELSE errors END,
			scheduled_at = now(), metadata = (metadata - 'lease_token' - 'lease_expires') || '{"progress": 0}'::jsonb
		WHERE kind = 'glasshouse_analyze' AND state = 'running'`)
	if err != nil {
		return 0, mapErr(op, err, "")
	}
	n, _ := res.RowsAffected()
	if n > 0 {
		db.log.Info("requeued jobs left running by a previous process", "jobs", n)
	}
	return int(n), nil
}

// RetryFailed queues the tenant's failed jobs again with fresh attempts.
func (db *DB) RetryFailed(ctx context.Context, tenant glasshouse.TenantID, asset glasshouse.AssetID) (int, error) {
	const op = "postgres.RetryFailed"
	q := `UPDATE river_job SET state = 'available', attempt = 0, finalized_at = NULL, scheduled_at = now(),
		metadata = (metadata - 'lease_token' - 'lease_expires') || '{"progress": 0}'::jsonb
		WHERE kind = 'glasshouse_analyze' AND state IN ('discarded', 'cancelled') AND metadata->>'superseded_by' IS NULL AND args->>'tenant' = $1`
	args := []any{string(tenant)}
	if asset != "" {
		q += ` AND args->>'asset' = $2`
		args = append(args, string(asset))
	}
	res, err := db.sqldb.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, mapErr(op, err, "")
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
