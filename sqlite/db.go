// Package sqlite is the embedded backend of glasshouse: catalog, job queue and
// hash-chained audit log in one SQLite file (modernc.org/sqlite, pure Go).
//
// The database runs in WAL mode with synchronous=FULL, so a transaction that
// has returned is on disk (an acknowledged upload survives a power cut), and
// with foreign keys on. All writes of this package go through one connection
// in BEGIN IMMEDIATE transactions, so writers in this process queue in Go
// instead of spinning on SQLITE_BUSY; writers in other processes (or through
// SQL()) wait under busy_timeout. Reads use a separate pool and run in
// parallel with the writer.
//
// The schema is versioned with PRAGMA user_version; Open applies the missing
// migrations in one transaction. Other packages may keep their own tables in
// the same file (the search index does); they must not use table names that
// start with "gh_".
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Compile-time checks.
var (
	_ glasshouse.Catalog  = (*DB)(nil)
	_ glasshouse.Queue    = (*DB)(nil)
	_ glasshouse.AuditLog = (*DB)(nil)
)

// BusyTimeout is how long a statement waits for a lock held by another
// connection before it fails with ErrUnavailable.
const BusyTimeout = 15 * time.Second

// MmapSize is the most of the database file a connection maps into memory
// (PRAGMA mmap_size): 2 GiB, SQLite's largest.
const MmapSize = 0x7fff0000

// CacheSize is each connection's page cache (PRAGMA cache_size; negative:
// KiB): 16 MiB keeps the pages that searches share parsed between them.
const CacheSize = -16 << 10

// DB is the SQLite backend. It is safe for concurrent use.
type DB struct {
	path   string
	w      *sql.DB // one connection: every write of this package
	r      *sql.DB // reads, and SQL() for other packages
	log    *slog.Logger
	now    func() time.Time
	closed chan struct{}
}

// Open opens (creating if needed) the database named by dsn, which is either
// "sqlite:///abs/path.db" or a plain file path, and brings its schema up to
// date. A nil logger discards logs.
func Open(ctx context.Context, dsn string, logger *slog.Logger) (*DB, error) {
	const op = "sqlite.Open"
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	path, err := parseDSN(dsn)
	if err != nil {
		return nil, glasshouse.E(op, glasshouse.ErrInvalid, err, "")
	}
	q := url.Values{}
	q.Set("_txlock", "immediate")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Add("_pragma", "trusted_schema(OFF)")
	// Reads of large tables (the search index) map pages instead of
	// copying them through the page cache.
	q.Add("_pragma", fmt.Sprintf("mmap_size(%d)", MmapSize))
	q.Add("_pragma", fmt.Sprintf("cache_size(%d)", CacheSize))
	full := path + "?" + q.Encode()

	w, err := sql.Open("sqlite", full)
	if err != nil {
		return nil, glasshouse.E(op, glasshouse.ErrUnavailable, err, "open "+path)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", full)
	if err != nil {
		w.Close()
		return nil, glasshouse.E(op, glasshouse.ErrUnavailable, err, "open "+path)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	db := &DB{path: path, w: w, r: r, log: logger, now: time.Now, closed: make(chan struct{})}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	// Check the database file is sound before serving from it.
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		db.Close()
		return nil, mapErr(op, err, "read journal mode")
	}
	if !strings.EqualFold(mode, "wal") {
		db.Close()
		return nil, glasshouse.Errorf(op, glasshouse.ErrUnavailable, "journal_mode is %q, want wal", mode)
	}
	logger.Debug("sqlite opened", "path", path)
	return db, nil
}

func parseDSN(dsn string) (string, error) {
	p := dsn
	switch {
	case strings.HasPrefix(dsn, "sqlite://"):
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse dsn %q: %w", dsn, err)
		}
		if u.Host != "" && u.Host != "localhost" {
			return "", fmt.Errorf("dsn %q: want sqlite:///absolute/path.db", dsn)
		}
		if u.RawQuery != "" {
			return "", fmt.Errorf("dsn %q: query parameters are not supported", dsn)
		}
		p = u.Path
	case strings.HasPrefix(dsn, "sqlite:"):
		p = strings.TrimPrefix(dsn, "sqlite:")
	}
	if p == "" {
		return "", fmt.Errorf("dsn %q names no file", dsn)
	}
	if strings.ContainsAny(p, "?#") || strings.HasPrefix(p, "file:") || p == ":memory:" {
		return "", fmt.Errorf("dsn %q: want a plain file path", dsn)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("dsn %q: %w", dsn, err)
	}
	return abs, nil
}

// SQL returns the read/write pool on the same file, for packages that keep
// their own tables there (the FTS5 search index). Transactions begun on it
// are BEGIN IMMEDIATE.
func (db *DB) SQL() *sql.DB { return db.r }

// Path returns the database file.
func (db *DB) Path() string { return db.path }

// Close checkpoints the WAL and closes the database.
func (db *DB) Close() error {
	select {
	case <-db.closed:
		return nil
	default:
		close(db.closed)
	}
	// Best effort: fold the WAL back into the main file on a clean shutdown.
	if _, err := db.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		db.log.Warn("sqlite checkpoint on close", "err", err)
	}
	err1 := db.r.Close()
	err2 := db.w.Close()
	if err := errors.Join(err1, err2); err != nil {
		return glasshouse.E("sqlite.Close", nil, err, "")
	}
	return nil
}

// IntegrityCheck runs PRAGMA integrity_check and returns nil if the file is
// sound, an ErrCorrupt error listing the problems otherwise.
func (db *DB) IntegrityCheck(ctx context.Context) error {
	const op = "sqlite.IntegrityCheck"
	rows, err := db.r.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return mapErr(op, err, "")
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return mapErr(op, err, "")
		}
		msgs = append(msgs, s)
	}
	if err := rows.Err(); err != nil {
		return mapErr(op, err, "")
	}
	if len(msgs) == 1 && msgs[0] == "ok" {
		return nil
	}
	return glasshouse.Errorf(op, glasshouse.ErrCorrupt, "integrity_check: %s", strings.Join(msgs, "; "))
}

// writeTx runs fn in one BEGIN IMMEDIATE transaction on the write connection.
func (db *DB) writeTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
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
	if errors.Is(err, sql.ErrNoRows) {
		return glasshouse.E(op, glasshouse.ErrNotExist, err, msg)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		code := se.Code()
		switch code {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return glasshouse.E(op, glasshouse.ErrExist, err, msg)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return glasshouse.E(op, glasshouse.ErrNotExist, err, msg)
		}
		switch code & 0xff {
		case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_RANGE:
			return glasshouse.E(op, glasshouse.ErrInvalid, err, msg)
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY:
			return glasshouse.E(op, glasshouse.ErrUnavailable, err, msg)
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return glasshouse.E(op, glasshouse.ErrCorrupt, err, msg)
		}
	}
	return glasshouse.E(op, nil, err, msg)
}

// Times are stored as integer nanoseconds since the Unix epoch, UTC; the zero
// time is stored as 0.
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
