package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/auth"
)

var _ auth.Store = (*DB)(nil)

// withEvent runs fn and, if ev has an action, appends ev in the same write
// transaction.
func (db *DB) withEvent(ctx context.Context, op string, ev glasshouse.AuditEvent, fn func(tx *Tx) error) error {
	return db.writeTx(ctx, op, func(tx *Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if ev.Action == "" {
			return nil
		}
		_, err := db.appendTx(ctx, tx, op, ev)
		return err
	})
}

// mustChange turns "no row changed" into ErrNotExist.
func mustChange(op string, res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return mapErr(op, err, what)
	}
	if n == 0 {
		return glasshouse.Errorf(op, glasshouse.ErrNotExist, "no %s", what)
	}
	return nil
}

// CreateTenant adds t and appends ev. ErrExist if the id is taken.
func (db *DB) CreateTenant(ctx context.Context, t auth.Tenant, ev glasshouse.AuditEvent) error {
	const op = "postgres.CreateTenant"
	return db.withEvent(ctx, op, ev, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO gh_tenants (id, name, created) VALUES (?, ?, ?)`, string(t.ID), t.Name, toNS(t.Created))
		return mapErr(op, err, "tenant "+string(t.ID))
	})
}

func scanTenant(sc interface{ Scan(...any) error }) (auth.Tenant, error) {
	var t auth.Tenant
	var id string
	var created int64
	err := sc.Scan(&id, &t.Name, &created)
	t.ID, t.Created = glasshouse.TenantID(id), fromNS(created)
	return t, err
}

// GetTenant returns one tenant.
func (db *DB) GetTenant(ctx context.Context, id glasshouse.TenantID) (auth.Tenant, error) {
	t, err := scanTenant(db.r.QueryRowContext(ctx, `SELECT id, name, created FROM gh_tenants WHERE id = ?`, string(id)))
	return t, mapErr("postgres.GetTenant", err, "tenant "+string(id))
}

// ListTenants lists every tenant by id.
func (db *DB) ListTenants(ctx context.Context) ([]auth.Tenant, error) {
	const op = "postgres.ListTenants"
	rows, err := db.r.QueryContext(ctx, `SELECT id, name, created FROM gh_tenants ORDER BY id`)
	if err != nil {
		return nil, mapErr(op, err, "")
	}
	defer rows.Close()
	out := []auth.Tenant{}
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, mapErr(op, err, "")
		}
		out = append(out, t)
	}
	return out, mapErr(op, rows.Err(), "")
}

// CreateUser adds u and appends ev; ErrExist if the name is taken (in any
// letter case), ErrNotExist if its tenant does not exist.
func (db *DB) CreateUser(ctx context.Context, u auth.User, ev glasshouse.AuditEvent) error {
	const op = "postgres.CreateUser"
	return db.withEvent(ctx, op, ev, func(tx *Tx) error {
		if u.Tenant != "" {
			var one int
			if err := tx.QueryRowContext(ctx, `SELECT 1 FROM gh_tenants WHERE id = ?`, string(u.Tenant)).Scan(&one); err != nil {
				return mapErr(op, err, "tenant "+string(u.Tenant))
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO gh_users (name, tenant, role, password_hash, disabled, created) VALUES (?, ?, ?, ?, ?, ?)`,
			u.Name, string(u.Tenant), string(u.Role), u.PasswordHash, boolInt(u.Disabled), toNS(u.Created))
		return mapErr(op, err, "user "+u.Name)
	})
}

const userCols = `u.name, u.tenant, u.role, u.password_hash, u.disabled, u.created`

func scanUser(dst *auth.User) []any {
	return []any{&dst.Name, (*string)(&dst.Tenant), (*string)(&dst.Role), &dst.PasswordHash, &dst.Disabled, nsTime{&dst.Created}}
}

// nsTime scans integer nanoseconds into a time.Time.
type nsTime struct{ t *time.Time }

func (n nsTime) Scan(v any) error {
	switch x := v.(type) {
	case int64:
		*n.t = fromNS(x)
	case nil:
		*n.t = time.Time{}
	default:
		return glasshouse.Errorf("postgres.nsTime", glasshouse.ErrCorrupt, "time column holds %T", v)
	}
	return nil
}

// GetUser returns the user named name (letter case ignored).
func (db *DB) GetUser(ctx context.Context, name string) (auth.User, error) {
	var u auth.User
	err := db.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM gh_users u WHERE lower(u.name) = lower(?)`, name).Scan(scanUser(&u)...)
	return u, mapErr("postgres.GetUser", err, "user "+name)
}

// ListUsers lists the tenant's users by name ("" lists operators).
func (db *DB) ListUsers(ctx context.Context, tenant glasshouse.TenantID) ([]auth.User, error) {
	const op = "postgres.ListUsers"
	rows, err := db.r.QueryContext(ctx, `SELECT `+userCols+` FROM gh_users u WHERE u.tenant = ? ORDER BY u.name`, string(tenant))
	if err != nil {
		return nil, mapErr(op, err, "")
	}
	defer rows.Close()
	out := []auth.User{}
	for rows.Next() {
		var u auth.User
		if err := rows.Scan(scanUser(&u)...); err != nil {
			return nil, mapErr(op, err, "")
		}
		out = append(out, u)
	}
	return out, mapErr(op, rows.Err(), "")
}

// CountUsers counts every user of every tenant, operators included.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM gh_users`).Scan(&n)
	return n, mapErr("postgres.CountUsers", err, "")
}

// UpdateUser stores u's role, disabled flag and password hash, optionally
// ends its sessions, and appends ev.
func (db *DB) UpdateUser(ctx context.Context, u auth.User, endSessions bool, ev glasshouse.AuditEvent) error {
	const op = "postgres.UpdateUser"
	return db.withEvent(ctx, op, ev, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE gh_users SET role = ?, disabled = ?, password_hash = ? WHERE lower(name) = lower(?)`,
			string(u.Role), boolInt(u.Disabled), u.PasswordHash, u.Name)
		if err != nil {
			return mapErr(op, err, "user "+u.Name)
		}
		if err := mustChange(op, res, "user "+u.Name); err != nil {
			return err
		}
		if endSessions {
			if _, err := tx.ExecContext(ctx, `DELETE FROM gh_sessions WHERE lower(username) = lower(?)`, u.Name); err != nil {
				return mapErr(op, err, "end sessions")
			}
		}
		return nil
	})
}

// CreateSession stores s and appends ev.
func (db *DB) CreateSession(ctx context.Context, s auth.Session, ev glasshouse.AuditEvent) error {
	const op = "postgres.CreateSession"
	return db.withEvent(ctx, op, ev, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO gh_sessions (hash, username, created, last_seen, remote) VALUES (?, ?, ?, ?, ?)`,
			s.Hash, s.User, toNS(s.Created), toNS(s.LastSeen), s.Remote)
		return mapErr(op, err, "session")
	})
}

// GetSession returns the session with hash and its user, in one query.
func (db *DB) GetSession(ctx context.Context, hash string) (auth.Session, auth.User, error) {
	var s auth.Session
	var u auth.User
	dst := append([]any{&s.Hash, &s.User, nsTime{&s.Created}, nsTime{&s.LastSeen}, &s.Remote}, scanUser(&u)...)
	err := db.r.QueryRowContext(ctx, `SELECT s.hash, s.username, s.created, s.last_seen, s.remote, `+userCols+`
		FROM gh_sessions s JOIN gh_users u ON u.name = s.username WHERE s.hash = ?`, hash).Scan(dst...)
	return s, u, mapErr("postgres.GetSession", err, "session")
}

// TouchSession records that the session was used at seen.
func (db *DB) TouchSession(ctx context.Context, hash string, seen time.Time) error {
	const op = "postgres.TouchSession"
	return db.writeTx(ctx, op, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE gh_sessions SET last_seen = greatest(last_seen, ?) WHERE hash = ?`, toNS(seen), hash)
		return mapErr(op, err, "")
	})
}

// DeleteSession removes a session and appends ev if it has an action.
// ErrNotExist if there is no such session.
func (db *DB) DeleteSession(ctx context.Context, hash string, ev glasshouse.AuditEvent) error {
	const op = "postgres.DeleteSession"
	return db.withEvent(ctx, op, ev, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM gh_sessions WHERE hash = ?`, hash)
		if err != nil {
			return mapErr(op, err, "")
		}
		return mustChange(op, res, "session")
	})
}

// CreateToken stores t and appends ev; ErrNotExist if its user does not
// exist, ErrInvalid if the user is of another tenant.
func (db *DB) CreateToken(ctx context.Context, t auth.Token, ev glasshouse.AuditEvent) error {
	const op = "postgres.CreateToken"
	return db.withEvent(ctx, op, ev, func(tx *Tx) error {
		var tenant string
		if err := tx.QueryRowContext(ctx, `SELECT tenant FROM gh_users WHERE lower(name) = lower(?)`, t.User).Scan(&tenant); err != nil {
			return mapErr(op, err, "user "+t.User)
		}
		if tenant != string(t.Tenant) {
			return glasshouse.Errorf(op, glasshouse.ErrInvalid, "user %s is not of tenant %q", t.User, t.Tenant)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO gh_tokens (id, tenant, username, name, scope, hash, created, expires, revoked, last_used)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, t.ID, string(t.Tenant), t.User, t.Name, string(t.Scope), t.Hash,
			toNS(t.Created), toNS(t.Expires), toNS(t.Revoked), toNS(t.LastUsed))
		return mapErr(op, err, "token "+t.ID)
	})
}

const tokenCols = `t.id, t.tenant, t.username, t.name, t.scope, t.hash, t.created, t.expires, t.revoked, t.last_used`

func scanToken(dst *auth.Token) []any {
	return []any{&dst.ID, (*string)(&dst.Tenant), &dst.User, &dst.Name, (*string)(&dst.Scope), &dst.Hash,
		nsTime{&dst.Created}, nsTime{&dst.Expires}, nsTime{&dst.Revoked}, nsTime{&dst.LastUsed}}
}

// GetToken returns the token whose secret hashes to hash, with its user.
func (db *DB) GetToken(ctx context.Context, hash string) (auth.Token, auth.User, error) {
	var t auth.Token
	var u auth.User
	err := db.r.QueryRowContext(ctx, `SELECT `+tokenCols+`, `+userCols+`
		FROM gh_tokens t JOIN gh_users u ON u.name = t.username WHERE t.hash = ?`, hash).Scan(append(scanToken(&t), scanUser(&u)...)...)
	return t, u, mapErr("postgres.GetToken", err, "token")
}

// ListTokens lists the tenant's tokens, of one user if user != "", newest first.
func (db *DB) ListTokens(ctx context.Context, tenant glasshouse.TenantID, user string) ([]auth.Token, error) {
	const op = "postgres.ListTokens"
	q := `SELECT ` + tokenCols + ` FROM gh_tokens t WHERE t.tenant = ?`
	args := []any{string(tenant)}
	if user != "" {
		q += ` AND lower(t.username) = lower(?)`
		args = append(args, user)
	}
	rows, err := db.r.QueryContext(ctx, q+` ORDER BY t.created DESC, t.id`, args...)
	if err != nil {
		return nil, mapErr(op, err, "")
	}
	defer rows.Close()
	out := []auth.Token{}
	for rows.Next() {
		var t auth.Token
		if err := rows.Scan(scanToken(&t)...); err != nil {
			return nil, mapErr(op, err, "")
		}
		out = append(out, t)
	}
	return out, mapErr(op, rows.Err(), "")
}

// RevokeToken marks the tenant's token revoked and appends ev.
func (db *DB) RevokeToken(ctx context.Context, tenant glasshouse.TenantID, id string, at time.Time, ev glasshouse.AuditEvent) error {
	const op = "postgres.RevokeToken"
	return db.withEvent(ctx, op, ev, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE gh_tokens SET revoked = ? WHERE tenant = ? AND id = ? AND revoked = 0`, toNS(at), string(tenant), id)
		if err != nil {
			return mapErr(op, err, "")
		}
		return mustChange(op, res, "unrevoked token "+id)
	})
}

// TouchToken records when a token was last used.
func (db *DB) TouchToken(ctx context.Context, id string, used time.Time) error {
	const op = "postgres.TouchToken"
	return db.writeTx(ctx, op, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE gh_tokens SET last_used = greatest(last_used, ?) WHERE id = ?`, toNS(used), id)
		return mapErr(op, err, "")
	})
}
