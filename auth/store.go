package auth

import (
	"context"
	"time"

	"github.com/glasshouse/glasshouse"
)

// Tenant is one customer of the service; its users, content and audit
// trail are invisible to every other tenant.
type Tenant struct {
	ID      glasshouse.TenantID `json:"id"`
	Name    string              `json:"name"`
	Created time.Time           `json:"created"`
}

// User is a person (or service account) that signs in. Name is unique over
// the whole service. Operators have the empty tenant.
type User struct {
	Name         string              `json:"name"`
	Tenant       glasshouse.TenantID `json:"tenant"`
	Role         Role                `json:"role"`
	PasswordHash string              `json:"-"`
	Disabled     bool                `json:"disabled"`
	Created      time.Time           `json:"created"`
}

// Session is a signed-in browser. The cookie holds a random secret; only its
// hash is stored.
type Session struct {
	Hash     string
	User     string
	Created  time.Time
	LastSeen time.Time
	Remote   string
}

// Token is an API token. Only the hash of its secret is stored.
type Token struct {
	ID       string              `json:"id"`
	Tenant   glasshouse.TenantID `json:"tenant"`
	User     string              `json:"user"`
	Name     string              `json:"name"`
	Scope    Scope               `json:"scope"`
	Hash     string              `json:"-"`
	Created  time.Time           `json:"created"`
	Expires  time.Time           `json:"expires"`
	Revoked  time.Time           `json:"revoked,omitzero"`
	LastUsed time.Time           `json:"last_used,omitzero"`
}

// Store keeps tenants, users, sessions and tokens. Every change takes the
// audit event that records it and writes both in one transaction. Missing
// rows are glasshouse.ErrNotExist, duplicates ErrExist. The sqlite package
// implements it; authtest is its conformance suite.
type Store interface {
	CreateTenant(ctx context.Context, t Tenant, ev glasshouse.AuditEvent) error
	GetTenant(ctx context.Context, id glasshouse.TenantID) (Tenant, error)
	ListTenants(ctx context.Context) ([]Tenant, error)

	// CreateUser fails with ErrNotExist if a tenant role names a tenant
	// that does not exist.
	CreateUser(ctx context.Context, u User, ev glasshouse.AuditEvent) error
	GetUser(ctx context.Context, name string) (User, error)
	// ListUsers lists the tenant's users by name; tenant "" lists operators.
	ListUsers(ctx context.Context, tenant glasshouse.TenantID) ([]User, error)
	CountUsers(ctx context.Context) (int, error)
	// UpdateUser stores Role, Disabled and PasswordHash of the user named
	// u.Name; with endSessions it also deletes the user's sessions.
	UpdateUser(ctx context.Context, u User, endSessions bool, ev glasshouse.AuditEvent) error

	CreateSession(ctx context.Context, s Session, ev glasshouse.AuditEvent) error
	// GetSession returns the session with that hash and its user.
	GetSession(ctx context.Context, hash string) (Session, User, error)
	TouchSession(ctx context.Context, hash string, seen time.Time) error
	// DeleteSession removes the session; ev (if its Action is set) is
	// appended in the same transaction.
	DeleteSession(ctx context.Context, hash string, ev glasshouse.AuditEvent) error

	CreateToken(ctx context.Context, t Token, ev glasshouse.AuditEvent) error
	// GetToken returns the token with that secret hash and its user.
	GetToken(ctx context.Context, hash string) (Token, User, error)
	// ListTokens lists the tenant's tokens (of one user if user != ""),
	// newest first; revoked and expired ones included.
	ListTokens(ctx context.Context, tenant glasshouse.TenantID, user string) ([]Token, error)
	// RevokeToken marks the tenant's token revoked at `at`; ErrNotExist if
	// the tenant has no such token.
	RevokeToken(ctx context.Context, tenant glasshouse.TenantID, id string, at time.Time, ev glasshouse.AuditEvent) error
	TouchToken(ctx context.Context, id string, used time.Time) error

	// Append records an event that changes nothing else (a failed sign-in).
	Append(ctx context.Context, ev glasshouse.AuditEvent) (glasshouse.AuditEvent, error)
}
