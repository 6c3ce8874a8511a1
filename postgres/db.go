// Package postgres is the scale-out backend of glasshouse: catalog, results,
// hash-chained audit log and job queue in PostgreSQL (pgx v5), for any number
// of glasshouse processes on any number of machines.
//
// The job queue is River (github.com/riverqueue/river): analyzer jobs are
// River jobs of kind "glasshouse_analyze" in River's own river_job table,
// inserted in the same transaction as the asset that needs them, unique on
// (asset, analyzer, version) through River's unique options. Workers run a
// River client (see app.RunRiver); the lease methods of glasshouse.Queue
// (Claim, Extend, Ack, Nack) are implemented over the same table for the
// one-shot paths (RunPending) and the conformance suite, with the lease
// token and expiry kept in the job's metadata.
//
// Schema changes are numbered migrations recorded in gh_schema; River's own
// migrations run first through rivermigrate. Both are applied under an
// advisory lock, so processes starting together migrate once.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// Compile-time checks.
var (
	_ glasshouse.Catalog  = (*DB)(nil)
	_ glasshouse.Queue    = (*DB)(nil)
	_ glasshouse.AuditLog = (*DB)(nil)
)

// DB is the PostgreSQL backend. It is safe for concurrent use.
type DB struct {
	dsn    string
	pool   *pgxpool.Pool
	sqldb  *sql.DB
	r      *Conn // reads and single statements
	ins    *river.Client[*sql.Tx]
	log    *slog.Logger
	now    func() time.Time
	closed chan struct{}
	once   sync.Once
}

// Open connects to the database named by dsn (postgres:// or postgresql://)
// and brings the schema (River's and glasshouse's) up to date.
func Open(ctx context.Context, dsn string, logger *slog.Logger) (*DB, error) {
	const op = "postgres.Open"
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "dsn must start with postgres://")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, glasshouse.E(op, glasshouse.ErrInvalid, err, "parse dsn")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// River workers, the API and heartbeats share the pool.
		cfg.MaxConns = 32
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, mapErr(op, err, "connect")
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, mapErr(op, err, "connect")
	}
	sqldb := stdlib.OpenDBFromPool(pool)
	db := &DB{dsn: dsn, pool: pool, sqldb: sqldb, r: &Conn{sqldb}, log: logger, now: time.Now, closed: make(chan struct{})}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	db.ins, err = river.NewClient(riverdatabasesql.New(sqldb), &river.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		db.Close()
		return nil, glasshouse.E(op, nil, err, "river insert client")
	}
	return db, nil
}

// Pool returns the pgx pool (for the River worker client and the search index).
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// SQL returns a database/sql handle on the same pool. Queries may use ?
// placeholders through Conn.
func (db *DB) SQL() *Conn { return db.r }

// StdDB returns the database/sql handle on the pool ($N placeholders), for
// the search index.
func (db *DB) StdDB() *sql.DB { return db.sqldb }

// Close closes the pool.
func (db *DB) Close() error {
	db.once.Do(func() {
		close(db.closed)
		db.sqldb.Close()
		db.pool.Close()
	})
	return nil
}

// migrations[i] brings the glasshouse schema from version i to i+1. Never
// edit one that has shipped; append.
var migrations = []string{
	`
CREATE TABLE gh_assets (
	id         TEXT COLLATE "C" PRIMARY KEY,
	tenant     TEXT NOT NULL CHECK (tenant <> ''),
	collection TEXT NOT NULL DEFAULT '',
	name       TEXT COLLATE "C" NOT NULL DEFAULT '',
	media_type TEXT NOT NULL DEFAULT '',
	kind       TEXT NOT NULL DEFAULT '',
	size       BIGINT NOT NULL DEFAULT 0,
	hash       TEXT NOT NULL,
	probe      TEXT,
	thumb      TEXT NOT NULL DEFAULT '',
	poster     TEXT NOT NULL DEFAULT '',
	note       TEXT NOT NULL DEFAULT '',
	legal_hold BIGINT NOT NULL DEFAULT 0,
	created    BIGINT NOT NULL
);
CREATE INDEX gh_assets_list ON gh_assets (tenant, created DESC, id DESC);
CREATE INDEX gh_assets_hash ON gh_assets (hash);
CREATE INDEX gh_assets_thumb ON gh_assets (thumb) WHERE thumb <> '';
CREATE INDEX gh_assets_poster ON gh_assets (poster) WHERE poster <> '';
CREATE INDEX gh_assets_name ON gh_assets (tenant, name, id);
CREATE INDEX gh_assets_size ON gh_assets (tenant, size DESC, id DESC);
CREATE INDEX gh_assets_coll ON gh_assets (tenant, collection, created DESC, id DESC);

CREATE TABLE gh_results (
	asset    TEXT NOT NULL REFERENCES gh_assets (id) ON DELETE CASCADE,
	analyzer TEXT NOT NULL,
	tenant   TEXT NOT NULL,
	run      TEXT NOT NULL,
	insights TEXT NOT NULL,
	blobs    TEXT NOT NULL,
	PRIMARY KEY (asset, analyzer)
);

CREATE TABLE gh_result_blobs (
	asset    TEXT NOT NULL,
	analyzer TEXT NOT NULL,
	ref      TEXT NOT NULL,
	PRIMARY KEY (asset, analyzer, ref),
	FOREIGN KEY (asset, analyzer) REFERENCES gh_results (asset, analyzer) ON DELETE CASCADE
);
CREATE INDEX gh_result_blobs_ref ON gh_result_blobs (ref);

CREATE TABLE gh_runs (
	asset        TEXT NOT NULL REFERENCES gh_assets (id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	version      TEXT NOT NULL DEFAULT '',
	state        TEXT NOT NULL,
	model        TEXT NOT NULL DEFAULT '',
	model_sha256 TEXT NOT NULL DEFAULT '',
	started      BIGINT NOT NULL DEFAULT 0,
	duration_ms  BIGINT NOT NULL DEFAULT 0,
	error        TEXT NOT NULL DEFAULT '',
	updated      BIGINT NOT NULL,
	PRIMARY KEY (asset, name)
);

CREATE TABLE gh_audit (
	seq       BIGINT PRIMARY KEY,
	time      TEXT NOT NULL,
	tenant    TEXT NOT NULL,
	actor     TEXT NOT NULL,
	remote    TEXT NOT NULL DEFAULT '',
	action    TEXT NOT NULL,
	target    TEXT NOT NULL DEFAULT '',
	detail    TEXT,
	prev_hash TEXT NOT NULL,
	hash      TEXT NOT NULL
);
CREATE INDEX gh_audit_tenant ON gh_audit (tenant, seq);

CREATE TABLE gh_orphans (
	ref   TEXT PRIMARY KEY,
	since BIGINT NOT NULL
);

-- Analyzer jobs live in River's table; these indexes serve the per-asset and
-- per-tenant lookups of the app (job lists, AssetsWithoutJob, DeleteAsset).
CREATE INDEX gh_river_job_asset ON river_job ((args->>'asset'), (args->>'kind'), (args->>'version')) WHERE kind = 'glasshouse_analyze';
CREATE INDEX gh_river_job_tenant ON river_job ((args->>'tenant'), id) WHERE kind = 'glasshouse_analyze';
`,
	// 2: tenants, users, sessions and API tokens (package auth), as in the
	// embedded schema; user names are unique case-insensitively.
	`
CREATE TABLE gh_tenants (
	id      TEXT PRIMARY KEY CHECK (id <> ''),
	name    TEXT NOT NULL DEFAULT '',
	created BIGINT NOT NULL
);

CREATE TABLE gh_users (
	name          TEXT COLLATE "C" PRIMARY KEY CHECK (name <> ''),
	tenant        TEXT NOT NULL,
	role          TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin', 'auditor', 'operator')),
	password_hash TEXT NOT NULL,
	disabled      BIGINT NOT NULL DEFAULT 0,
	created       BIGINT NOT NULL,
	CHECK ((role = 'operator') = (tenant = ''))
);
CREATE UNIQUE INDEX gh_users_lower ON gh_users (lower(name));
CREATE INDEX gh_users_tenant ON gh_users (tenant, name);

CREATE TABLE gh_sessions (
	hash      TEXT PRIMARY KEY,
	username  TEXT NOT NULL REFERENCES gh_users (name) ON DELETE CASCADE,
	created   BIGINT NOT NULL,
	last_seen BIGINT NOT NULL,
	remote    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX gh_sessions_user ON gh_sessions (username);

CREATE TABLE gh_tokens (
	id        TEXT PRIMARY KEY,
	tenant    TEXT NOT NULL,
	username  TEXT NOT NULL REFERENCES gh_users (name) ON DELETE CASCADE,
	name      TEXT NOT NULL DEFAULT '',
	scope     TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
	hash      TEXT NOT NULL UNIQUE,
	created   BIGINT NOT NULL,
	expires   BIGINT NOT NULL,
	revoked   BIGINT NOT NULL DEFAULT 0,
	last_used BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX gh_tokens_tenant ON gh_tokens (tenant, username, created DESC);
`,
	// 3: retention rules, legal holds, deletion records, tenant policy
	// limits, and an index for the usage report's audit counts, as in the
	// embedded schema's migration 4. Depends on migration 1 only.
	`
CREATE TABLE gh_retention (
	tenant     TEXT NOT NULL CHECK (tenant <> ''),
	scope      TEXT NOT NULL CHECK (scope IN ('tenant', 'collection')),
	collection TEXT COLLATE "C" NOT NULL DEFAULT '',   -- '' for scope 'tenant'
	days       INTEGER NOT NULL CHECK (days > 0),
	set_by     TEXT NOT NULL DEFAULT '',
	updated    BIGINT NOT NULL,
	PRIMARY KEY (tenant, scope, collection)
);

-- Legal holds on one asset or a whole collection. gh_assets.legal_hold
-- mirrors the asset holds.
CREATE TABLE gh_holds (
	tenant TEXT NOT NULL CHECK (tenant <> ''),
	scope  TEXT NOT NULL CHECK (scope IN ('asset', 'collection')),
	target TEXT COLLATE "C" NOT NULL,
	reason TEXT NOT NULL CHECK (reason <> ''),
	set_by TEXT NOT NULL DEFAULT '',
	since  BIGINT NOT NULL,
	PRIMARY KEY (tenant, scope, target)
);

-- What stays of a deleted asset; written with the deletion and its audit
-- event. Sizes and times also give the stored-bytes series of the usage
-- report.
CREATE TABLE gh_deletions (
	id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	tenant      TEXT NOT NULL,
	asset       TEXT NOT NULL,
	name        TEXT NOT NULL,
	hash        TEXT NOT NULL,
	size        BIGINT NOT NULL,
	kind        TEXT NOT NULL,
	collection  TEXT NOT NULL,
	duration_ms BIGINT NOT NULL DEFAULT 0,
	created     BIGINT NOT NULL,  -- when the asset was stored, Unix ns
	deleted     BIGINT NOT NULL,  -- Unix ns
	actor       TEXT NOT NULL,
	reason      TEXT NOT NULL CHECK (reason IN ('user', 'retention')),
	audit_seq   BIGINT NOT NULL
);
CREATE INDEX gh_deletions_tenant ON gh_deletions (tenant, deleted);

-- One row per tenant with limits. stored_bytes is the running total of
-- the tenant's originals (gh_assets.size), kept by CreateAsset and
-- DeleteAsset and recomputed by every SetPolicy, so the quota check costs
-- one row update, not a sum over the tenant's assets. CreateAsset updates
-- the row first, which locks it until commit: concurrent uploads of a
-- tenant cannot both pass the quota.
CREATE TABLE gh_policy (
	tenant       TEXT PRIMARY KEY CHECK (tenant <> ''),
	quota_bytes  BIGINT NOT NULL DEFAULT 0 CHECK (quota_bytes >= 0),
	analyzers    TEXT,              -- JSON array of names; NULL: all
	set_by       TEXT NOT NULL DEFAULT '',
	updated      BIGINT NOT NULL,
	stored_bytes BIGINT NOT NULL DEFAULT 0
);

-- The usage report counts events per day; times are RFC 3339 UTC text,
-- compared bytewise.
CREATE INDEX gh_audit_usage ON gh_audit (tenant, action, time COLLATE "C");
`,
	// 4: redaction plans (one per asset, gone with it) and renders of
	// redacted copies, as in the embedded schema (sqlite migration 5).
	// Renders outlive their source asset: the manifest is the record of
	// what was published. Plans, plan snapshots and manifests stay TEXT
	// (not JSONB) so they read back byte for byte.
	`
CREATE TABLE gh_redact_plans (
	asset    TEXT COLLATE "C" PRIMARY KEY REFERENCES gh_assets (id) ON DELETE CASCADE,
	tenant   TEXT NOT NULL CHECK (tenant <> ''),
	plan     TEXT NOT NULL,
	revision BIGINT NOT NULL,
	updated  BIGINT NOT NULL
);
CREATE TABLE gh_redactions (
	id          TEXT COLLATE "C" PRIMARY KEY,
	tenant      TEXT NOT NULL CHECK (tenant <> ''),
	source      TEXT COLLATE "C" NOT NULL,
	source_hash TEXT NOT NULL,
	output      TEXT COLLATE "C" NOT NULL DEFAULT '',
	output_hash TEXT NOT NULL DEFAULT '',
	state       TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
	error       TEXT NOT NULL DEFAULT '',
	plan        TEXT NOT NULL,
	requester   TEXT NOT NULL DEFAULT '',
	manifest    TEXT,
	created     BIGINT NOT NULL,
	updated     BIGINT NOT NULL
);
CREATE INDEX gh_redactions_source ON gh_redactions (tenant, source, created DESC, id DESC);
CREATE INDEX gh_redactions_output ON gh_redactions (output) WHERE output <> '';
`,
}

// SchemaVersion is the glasshouse schema version this binary migrates to.
func SchemaVersion() int { return len(migrations) }

// migrateLock is the advisory lock key under which migrations run.
const migrateLock = 0x676c617373 // "glass"

func (db *DB) migrate(ctx context.Context) error {
	const op = "postgres.migrate"
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return mapErr(op, err, "acquire")
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLock); err != nil {
		return mapErr(op, err, "lock")
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLock)
	migrator, err := rivermigrate.New(riverpgxv5.New(db.pool), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return glasshouse.E(op, nil, err, "river migrator")
	}
	if res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return mapErr(op, err, "river migrations")
	} else if len(res.Versions) > 0 {
		db.log.Info("river schema migrated", "versions", len(res.Versions))
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS gh_schema (version INT NOT NULL, applied TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return mapErr(op, err, "schema table")
	}
	var v int
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM gh_schema`).Scan(&v); err != nil {
		return mapErr(op, err, "read schema version")
	}
	if v > len(migrations) {
		return glasshouse.Errorf(op, glasshouse.ErrUnsupported, "database schema version %d is newer than this program's %d", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, migrations[i]); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO gh_schema (version) VALUES ($1)`, i+1)
			return err
		})
		if err != nil {
			return mapErr(op, err, fmt.Sprintf("migration %d", i+1))
		}
		db.log.Info("postgres schema migrated", "version", i+1)
	}
	return nil
}

// Conn wraps a database/sql handle so that queries written with ? (or ?N)
// placeholders, as in the embedded backend, run on PostgreSQL ($N).
type Conn struct{ db *sql.DB }

func (c *Conn) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return c.db.ExecContext(ctx, rebind(q), args...)
}
func (c *Conn) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return c.db.QueryContext(ctx, rebind(q), args...)
}
func (c *Conn) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return c.db.QueryRowContext(ctx, rebind(q), args...)
}
func (c *Conn) BeginTx(ctx context.Context, o *sql.TxOptions) (*Tx, error) {
	tx, err := c.db.BeginTx(ctx, o)
	if err != nil {
		return nil, err
	}
	return &Tx{tx}, nil
}

// Tx is a transaction taking ? placeholders.
type Tx struct{ tx *sql.Tx }

func (t *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, rebind(q), args...)
}
func (t *Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, rebind(q), args...)
}
func (t *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, rebind(q), args...)
}
func (t *Tx) Rollback() error { return t.tx.Rollback() }
func (t *Tx) Commit() error   { return t.tx.Commit() }

var rebinds sync.Map

// rebind turns ? into $1, $2, ... and ?N into $N. Queries of this package
// hold no ? inside string literals.
func rebind(q string) string {
	if v, ok := rebinds.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c != '?' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(q) && q[j] >= '0' && q[j] <= '9' {
			j++
		}
		if j > i+1 {
			b.WriteString("$" + q[i+1:j])
			i = j - 1
			continue
		}
		n++
		b.WriteString("$" + strconv.Itoa(n))
	}
	out := b.String()
	rebinds.Store(q, out)
	return out
}

// writeTx runs fn in one transaction (READ COMMITTED; row locks and the
// audit advisory lock serialise what must be serial).
func (db *DB) writeTx(ctx context.Context, op string, fn func(tx *Tx) error) error {
	tx, err := db.r.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(op, err, "begin")
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return mapErr(op, err, "commit")
	}
	return nil
}

// mapErr turns a database error into a glasshouse error of the right kind.
// A server that cannot be reached, or that is shutting down, is
// ErrUnavailable, so the API answers "unavailable" and workers back off.
func mapErr(op string, err error, msg string) error {
	if err == nil {
		return nil
	}
	var ge *glasshouse.Error
	if errors.As(err, &ge) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return glasshouse.E(op, nil, err, msg)
	}
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) {
		return glasshouse.E(op, glasshouse.ErrNotExist, err, msg)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return glasshouse.E(op, glasshouse.ErrExist, err, msg)
		case pe.Code == "23503":
			return glasshouse.E(op, glasshouse.ErrNotExist, err, msg)
		case strings.HasPrefix(pe.Code, "23"), strings.HasPrefix(pe.Code, "22"):
			return glasshouse.E(op, glasshouse.ErrInvalid, err, msg)
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "53"), strings.HasPrefix(pe.Code, "57"),
			pe.Code == "40001", pe.Code == "40P01":
			return glasshouse.E(op, glasshouse.ErrUnavailable, err, msg)
		case pe.Code == "XX001", pe.Code == "XX002":
			return glasshouse.E(op, glasshouse.ErrCorrupt, err, msg)
		}
		return glasshouse.E(op, nil, err, msg)
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, sql.ErrConnDone) || pgconn.SafeToRetry(err) || strings.Contains(err.Error(), "conn closed") ||
		strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "closed pool") {
		return glasshouse.E(op, glasshouse.ErrUnavailable, err, "database unreachable"+sep(msg))
	}
	return glasshouse.E(op, nil, err, msg)
}

func sep(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}

func toNS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNS(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}
