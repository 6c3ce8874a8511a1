// Package auth holds who may do what in glasshouse: the permissions every API
// route requires. Roles, users, sessions and tokens build on these names.
package auth

import (
	"fmt"
	"slices"
)

// Permission names one thing a caller may do. Every API route requires
// exactly one; a route without one is refused to everybody.
type Permission string

const (
	// Public routes need no caller at all (health check, API document,
	// sign-in).
	Public Permission = "public"
	// Member routes need a signed-in caller of any role (own account, the
	// tenant's policy, server status).
	Member Permission = "member"

	AssetsRead     Permission = "assets.read"     // list, open, play, download, search, insights, exports, jobs
	AssetsWrite    Permission = "assets.write"    // upload, edit metadata and notes
	AssetsDelete   Permission = "assets.delete"   // delete assets
	ContentAnalyze Permission = "content.analyze" // run analyzers again
	ContentRedact  Permission = "content.redact"  // edit redaction plans, render redacted copies
	AuditRead      Permission = "audit.read"      // read and export the tenant's audit log
	UsageRead      Permission = "usage.read"      // the tenant's usage report, deletion records
	PolicyManage   Permission = "policy.manage"   // retention rules, legal holds
	UsersManage    Permission = "users.manage"    // users, roles and their tokens in the tenant
	UsageAll       Permission = "usage.all"       // operator: usage of every tenant, never content
	TenantsManage  Permission = "tenants.manage"  // operator: tenants and their policy limits
)

// All lists every permission a route may name, Public and Member included.
func All() []Permission {
	return []Permission{Public, Member, AssetsRead, AssetsWrite, AssetsDelete, ContentAnalyze,
		ContentRedact, AuditRead, UsageRead, PolicyManage, UsersManage, UsageAll, TenantsManage}
}

// Role is what a user is in a tenant. Operator stands above tenants: it sees
// usage figures of every tenant and manages tenants, never their content.
type Role string

const (
	Viewer   Role = "viewer"
	Editor   Role = "editor"
	Admin    Role = "admin"
	Auditor  Role = "auditor"
	Operator Role = "operator"
)

// Roles lists every role, tenant roles first.
func Roles() []Role { return []Role{Viewer, Editor, Admin, Auditor, Operator} }

// rolePerms is the role → permission table (ROLES.md). Public is granted to
// everybody and not listed.
var rolePerms = map[Role][]Permission{
	Viewer:   {Member, AssetsRead},
	Editor:   {Member, AssetsRead, AssetsWrite, ContentAnalyze, ContentRedact},
	Admin:    {Member, AssetsRead, AssetsWrite, ContentAnalyze, ContentRedact, AssetsDelete, AuditRead, UsageRead, PolicyManage, UsersManage},
	Auditor:  {Member, AuditRead, UsageRead},
	Operator: {Member, UsageAll, TenantsManage},
}

// ParseRole checks s names a role.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if _, ok := rolePerms[r]; !ok {
		return "", fmt.Errorf("unknown role %q (want viewer, editor, admin, auditor or operator)", s)
	}
	return r, nil
}

// Perms returns the permissions of r (Public excluded), in table order.
func (r Role) Perms() []Permission { return append([]Permission(nil), rolePerms[r]...) }

// Can reports whether r grants p. Everybody may use Public routes.
func (r Role) Can(p Permission) bool {
	if p == Public {
		return true
	}
	return slices.Contains(rolePerms[r], p)
}

// InTenant reports whether the role belongs to one tenant (all but Operator).
func (r Role) InTenant() bool { return r != Operator && r != "" }

// RolesWith lists the roles that grant p.
func RolesWith(p Permission) []Role {
	var out []Role
	for _, r := range Roles() {
		if r.Can(p) {
			out = append(out, r)
		}
	}
	return out
}

// Scope limits an API token to a subset of its user's permissions.
type Scope string

const (
	// ScopeRead: reading content, audit and usage.
	ScopeRead Scope = "read"
	// ScopeWrite: read plus upload, edit, analyze and redact.
	ScopeWrite Scope = "write"
	// ScopeAdmin: everything the user's role allows.
	ScopeAdmin Scope = "admin"
)

var scopePerms = map[Scope][]Permission{
	ScopeRead:  {Public, Member, AssetsRead, AuditRead, UsageRead, UsageAll},
	ScopeWrite: {Public, Member, AssetsRead, AuditRead, UsageRead, UsageAll, AssetsWrite, ContentAnalyze, ContentRedact},
}

// ParseScope checks s names a scope.
func ParseScope(s string) (Scope, error) {
	switch sc := Scope(s); sc {
	case ScopeRead, ScopeWrite, ScopeAdmin:
		return sc, nil
	}
	return "", fmt.Errorf("unknown token scope %q (want read, write or admin)", s)
}

// Allows reports whether the scope lets a token use p (its user's role
// must grant p as well). The empty scope (a browser session) allows all.
func (s Scope) Allows(p Permission) bool {
	if s == "" || s == ScopeAdmin {
		return true
	}
	return slices.Contains(scopePerms[s], p)
}

// MaxScope is the widest scope a token of role r may have: a token never
// adds to what its user may do.
func MaxScope(r Role) Scope {
	switch r {
	case Viewer, Auditor:
		return ScopeRead
	case Editor:
		return ScopeWrite
	}
	return ScopeAdmin
}

// Within reports whether scope s is no wider than limit.
func (s Scope) Within(limit Scope) bool {
	rank := map[Scope]int{ScopeRead: 1, ScopeWrite: 2, ScopeAdmin: 3}
	return rank[s] > 0 && rank[s] <= rank[limit]
}
