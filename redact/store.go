package redact

import (
	"context"
	"encoding/json"
	"time"

	"github.com/glasshouse/glasshouse"
)

// Render states.
const (
	StateQueued  = "queued"
	StateRunning = "running"
	StateDone    = "done"
	StateFailed  = "failed"
)

// Render is one request to render a redacted copy, and its outcome.
type Render struct {
	ID         string              `json:"id"`
	Tenant     glasshouse.TenantID `json:"tenant"`
	Source     glasshouse.AssetID  `json:"source"`
	SourceHash glasshouse.Ref      `json:"source_hash"`
	// Output is the redacted copy, an asset of the same collection (empty
	// until done).
	Output     glasshouse.AssetID `json:"output,omitempty"`
	OutputHash glasshouse.Ref     `json:"output_hash,omitempty"`
	State      string             `json:"state"`
	Progress   float64            `json:"progress"` // 0..1, filled from the job when read
	Error      string             `json:"error,omitempty"`
	// Plan is the plan as it was when the render was asked for.
	Plan      *Plan     `json:"plan"`
	Requester string    `json:"requester"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	// Manifest is what was removed (JSON of Manifest), once done.
	Manifest json.RawMessage `json:"manifest,omitempty"`
}

// Store keeps plans and renders. PutPlan is a compare-and-swap on
// Plan.Revision: it stores p only if the stored plan's revision equals
// p.Revision (0: none stored yet), then sets p.Revision to the next value;
// otherwise it returns ErrConflict. Missing plans and renders give
// ErrNotExist. Plans and renders of one tenant are invisible to others.
type Store interface {
	GetPlan(ctx context.Context, tenant glasshouse.TenantID, asset glasshouse.AssetID) (*Plan, error)
	PutPlan(ctx context.Context, p *Plan) error
	CreateRender(ctx context.Context, r *Render) error
	// UpdateRender stores State, Error, Output, OutputHash, Manifest.
	UpdateRender(ctx context.Context, r *Render) error
	GetRender(ctx context.Context, tenant glasshouse.TenantID, id string) (*Render, error)
	// Renders lists the renders made from source, newest first.
	Renders(ctx context.Context, tenant glasshouse.TenantID, source glasshouse.AssetID) ([]*Render, error)
}
