// Package auth holds who may do what in glasshouse: the permissions every API
// route requires. Roles, users, sessions and tokens build on these names.
package auth

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
