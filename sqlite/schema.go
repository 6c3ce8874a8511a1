package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/glasshouse/glasshouse"
)

// migrations[i] brings the schema from user_version i to i+1. Never edit a
// migration that has shipped; append a new one.
var migrations = []string{
	// 1: assets, results, runs, jobs, audit chain.
	`
CREATE TABLE gh_assets (
	id         TEXT PRIMARY KEY,
	tenant     TEXT NOT NULL CHECK (tenant <> ''),
	collection TEXT NOT NULL DEFAULT '',
	name       TEXT NOT NULL DEFAULT '',
	media_type TEXT NOT NULL DEFAULT '',
	kind       TEXT NOT NULL DEFAULT '',
	size       INTEGER NOT NULL DEFAULT 0,
	hash       TEXT NOT NULL,
	probe      TEXT,              -- JSON of glasshouse.ProbeInfo, NULL if none
	thumb      TEXT NOT NULL DEFAULT '',
	poster     TEXT NOT NULL DEFAULT '',
	note       TEXT NOT NULL DEFAULT '',
	legal_hold INTEGER NOT NULL DEFAULT 0,
	created    INTEGER NOT NULL   -- Unix nanoseconds, UTC
) STRICT;
CREATE INDEX gh_assets_list ON gh_assets (tenant, created DESC, id DESC);
CREATE INDEX gh_assets_hash ON gh_assets (hash);
CREATE INDEX gh_assets_thumb ON gh_assets (thumb) WHERE thumb <> '';
CREATE INDEX gh_assets_poster ON gh_assets (poster) WHERE poster <> '';

CREATE TABLE gh_results (
	asset    TEXT NOT NULL REFERENCES gh_assets (id) ON DELETE CASCADE,
	analyzer TEXT NOT NULL,
	tenant   TEXT NOT NULL,
	run      TEXT NOT NULL,       -- JSON of glasshouse.AnalyzerRun
	insights TEXT NOT NULL,       -- JSON of glasshouse.Insights
	blobs    TEXT NOT NULL,       -- JSON array of the Result.Blobs refs
	PRIMARY KEY (asset, analyzer)
) STRICT;

-- Every blob a result references (Result.Blobs and keyframe images), for
-- BlobInUse and the orphan computation of DeleteAsset.
CREATE TABLE gh_result_blobs (
	asset    TEXT NOT NULL,
	analyzer TEXT NOT NULL,
	ref      TEXT NOT NULL,
	PRIMARY KEY (asset, analyzer, ref),
	FOREIGN KEY (asset, analyzer) REFERENCES gh_results (asset, analyzer) ON DELETE CASCADE
) STRICT;
CREATE INDEX gh_result_blobs_ref ON gh_result_blobs (ref);

-- The latest run of each analyzer on each asset.
CREATE TABLE gh_runs (
	asset        TEXT NOT NULL REFERENCES gh_assets (id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	version      TEXT NOT NULL DEFAULT '',
	state        TEXT NOT NULL,
	model        TEXT NOT NULL DEFAULT '',
	model_sha256 TEXT NOT NULL DEFAULT '',
	started      INTEGER NOT NULL DEFAULT 0,
	duration_ms  INTEGER NOT NULL DEFAULT 0,
	error        TEXT NOT NULL DEFAULT '',
	updated      INTEGER NOT NULL,
	PRIMARY KEY (asset, name)
) STRICT;

CREATE TABLE gh_jobs (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	tenant        TEXT NOT NULL,
	asset         TEXT NOT NULL REFERENCES gh_assets (id) ON DELETE CASCADE,
	kind          TEXT NOT NULL CHECK (kind <> ''),
	version       TEXT NOT NULL,
	state         TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
	attempts      INTEGER NOT NULL DEFAULT 0,
	max_attempts  INTEGER NOT NULL,
	run_after     INTEGER NOT NULL,
	progress      REAL NOT NULL DEFAULT 0,
	last_error    TEXT NOT NULL DEFAULT '',
	lease_token   TEXT NOT NULL DEFAULT '',
	lease_expires INTEGER NOT NULL DEFAULT 0,
	created       INTEGER NOT NULL,
	updated       INTEGER NOT NULL,
	UNIQUE (asset, kind, version)
) STRICT;
CREATE INDEX gh_jobs_due ON gh_jobs (state, run_after) WHERE state IN ('queued', 'running');
CREATE INDEX gh_jobs_tenant ON gh_jobs (tenant, id);

-- The audit hash chain. time is RFC 3339 text with nanoseconds, UTC, so it
-- round-trips exactly into AuditEvent.ComputeHash.
CREATE TABLE gh_audit (
	seq       INTEGER PRIMARY KEY,
	time      TEXT NOT NULL,
	tenant    TEXT NOT NULL,
	actor     TEXT NOT NULL,
	remote    TEXT NOT NULL DEFAULT '',
	action    TEXT NOT NULL,
	target    TEXT NOT NULL DEFAULT '',
	detail    TEXT,                  -- JSON, NULL if none
	prev_hash TEXT NOT NULL,
	hash      TEXT NOT NULL
) STRICT;
CREATE INDEX gh_audit_tenant ON gh_audit (tenant, seq);

-- Blobs a replaced result referenced and nothing references any more, for
-- the caller to delete (TakeOrphans).
CREATE TABLE gh_orphans (
	ref   TEXT PRIMARY KEY,
	since INTEGER NOT NULL
) STRICT;
`,
	// 2: indexes for the library's sort orders and collection filter.
	`
CREATE INDEX gh_assets_name ON gh_assets (tenant, name, id);
CREATE INDEX gh_assets_size ON gh_assets (tenant, size DESC, id DESC);
CREATE INDEX gh_assets_coll ON gh_assets (tenant, collection, created DESC, id DESC);
`,
	// 3: tenants, users, sessions and API tokens (package auth). Secrets
	// are stored only as SHA-256 hashes, passwords as Argon2id hashes.
	`
CREATE TABLE gh_tenants (
	id      TEXT PRIMARY KEY CHECK (id <> ''),
	name    TEXT NOT NULL DEFAULT '',
	created INTEGER NOT NULL
) STRICT;

CREATE TABLE gh_users (
	name          TEXT PRIMARY KEY COLLATE NOCASE CHECK (name <> ''),
	tenant        TEXT NOT NULL,     -- '' for operators
	role          TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin', 'auditor', 'operator')),
	password_hash TEXT NOT NULL,
	disabled      INTEGER NOT NULL DEFAULT 0,
	created       INTEGER NOT NULL,
	CHECK ((role = 'operator') = (tenant = ''))
) STRICT;
CREATE INDEX gh_users_tenant ON gh_users (tenant, name);

CREATE TABLE gh_sessions (
	hash      TEXT PRIMARY KEY,
	user      TEXT NOT NULL REFERENCES gh_users (name) ON DELETE CASCADE,
	created   INTEGER NOT NULL,
	last_seen INTEGER NOT NULL,
	remote    TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX gh_sessions_user ON gh_sessions (user);

CREATE TABLE gh_tokens (
	id        TEXT PRIMARY KEY,
	tenant    TEXT NOT NULL,
	user      TEXT NOT NULL REFERENCES gh_users (name) ON DELETE CASCADE,
	name      TEXT NOT NULL DEFAULT '',
	scope     TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
	hash      TEXT NOT NULL UNIQUE,
	created   INTEGER NOT NULL,
	expires   INTEGER NOT NULL,
	revoked   INTEGER NOT NULL DEFAULT 0,
	last_used INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX gh_tokens_tenant ON gh_tokens (tenant, user, created DESC);
`,
}

// SchemaVersion is the user_version this binary migrates to.
func SchemaVersion() int { return len(migrations) }

func (db *DB) migrate(ctx context.Context) error {
	const op = "sqlite.migrate"
	return db.writeTx(ctx, op, func(tx *sql.Tx) error {
		var v int
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return mapErr(op, err, "read user_version")
		}
		if v > len(migrations) {
			return glasshouse.Errorf(op, glasshouse.ErrUnsupported,
				"database schema version %d is newer than this program's %d", v, len(migrations))
		}
		for i := v; i < len(migrations); i++ {
			if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
				return mapErr(op, err, fmt.Sprintf("migration %d", i+1))
			}
			db.log.Info("sqlite schema migrated", "version", i+1, "path", db.path)
		}
		if v != len(migrations) {
			// PRAGMA takes no bind parameters; the value is our own integer.
			if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
				return mapErr(op, err, "set user_version")
			}
		}
		return nil
	})
}
