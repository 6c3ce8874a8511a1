package postgres

import (
	"context"
	"time"

	"github.com/glasshouse/glasshouse"
)

// Retention rules, legal holds, deletion records, tenant policy limits and
// usage reports are kept by the embedded SQLite backend only so far. On
// PostgreSQL the methods that would change or report them answer
// ErrUnavailable naming what is missing; the reads that can answer truthfully
// without those tables do (no rule, no hold, no policy limit can exist here,
// because none can be set).

const governanceMissing = "retention, legal holds, deletion records, policy limits and usage reports are not implemented on the PostgreSQL backend yet"

func governanceUnavailable(op string) error {
	return glasshouse.Errorf(op, glasshouse.ErrUnavailable, "%s", governanceMissing)
}

// SetRetention is not implemented on PostgreSQL yet.
func (db *DB) SetRetention(ctx context.Context, r glasshouse.RetentionRule, ev glasshouse.AuditEvent) error {
	return governanceUnavailable("postgres.SetRetention")
}

// DeleteRetention is not implemented on PostgreSQL yet.
func (db *DB) DeleteRetention(ctx context.Context, tenant glasshouse.TenantID, all bool, collection string, ev glasshouse.AuditEvent) error {
	return governanceUnavailable("postgres.DeleteRetention")
}

// RetentionRules lists none: no rule can be set on PostgreSQL yet.
func (db *DB) RetentionRules(ctx context.Context, tenant glasshouse.TenantID) ([]glasshouse.RetentionRule, error) {
	return []glasshouse.RetentionRule{}, nil
}

// DueAssets lists none: no retention rule can be set on PostgreSQL yet.
func (db *DB) DueAssets(ctx context.Context, now time.Time) ([]glasshouse.DueAsset, error) {
	return nil, nil
}

// SetHold is not implemented on PostgreSQL yet.
func (db *DB) SetHold(ctx context.Context, h glasshouse.Hold, ev glasshouse.AuditEvent) error {
	return governanceUnavailable("postgres.SetHold")
}

// ReleaseHold is not implemented on PostgreSQL yet.
func (db *DB) ReleaseHold(ctx context.Context, tenant glasshouse.TenantID, scope, target string, ev glasshouse.AuditEvent) error {
	return governanceUnavailable("postgres.ReleaseHold")
}

// Holds lists none: no hold can be set on PostgreSQL yet.
func (db *DB) Holds(ctx context.Context, tenant glasshouse.TenantID) ([]glasshouse.Hold, error) {
	return []glasshouse.Hold{}, nil
}

// DeletionRecords is not implemented on PostgreSQL yet (deletions are in the
// audit log only).
func (db *DB) DeletionRecords(ctx context.Context, tenant glasshouse.TenantID, from, to time.Time) ([]glasshouse.DeletionRecord, error) {
	return nil, governanceUnavailable("postgres.DeletionRecords")
}

// Policy answers the empty policy (no quota, every analyzer): limits cannot
// be set on PostgreSQL yet.
func (db *DB) Policy(ctx context.Context, tenant glasshouse.TenantID) (*glasshouse.Policy, error) {
	return &glasshouse.Policy{Tenant: tenant}, nil
}

// SetPolicy is not implemented on PostgreSQL yet.
func (db *DB) SetPolicy(ctx context.Context, p *glasshouse.Policy, ev glasshouse.AuditEvent) error {
	return governanceUnavailable("postgres.SetPolicy")
}

// Tenants lists the tenants that have accounts.
func (db *DB) Tenants(ctx context.Context) ([]glasshouse.TenantID, error) {
	ts, err := db.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]glasshouse.TenantID, 0, len(ts))
	for _, t := range ts {
		out = append(out, glasshouse.TenantID(t.ID))
	}
	return out, nil
}

// UsageReport is not implemented on PostgreSQL yet.
func (db *DB) UsageReport(ctx context.Context, tenant glasshouse.TenantID, from, to time.Time) (*glasshouse.Usage, error) {
	return nil, governanceUnavailable("postgres.UsageReport")
}
