package glasshouse

import (
	"encoding/csv"
	"io"
	"sort"
	"strconv"
	"time"
)

// ---------------------------------------------------------------------------
// Retention, legal hold, deletion records, policy limits and usage figures.

// RetentionRule deletes a tenant's assets some days after they were stored.
// A rule with All set covers every collection of the tenant; a rule for a
// named collection (the empty name is the default collection) takes
// precedence over the tenant-wide rule for that collection.
type RetentionRule struct {
	Tenant     TenantID  `json:"tenant"`
	All        bool      `json:"all"`        // tenant-wide rule
	Collection string    `json:"collection"` // when !All
	Days       int       `json:"days"`       // delete assets older than this
	SetBy      string    `json:"set_by,omitempty"`
	Updated    time.Time `json:"updated,omitempty"`
}

// Hold scopes.
const (
	HoldAsset      = "asset"
	HoldCollection = "collection"
)

// Hold is a legal hold: while it stands, nothing it covers can be deleted,
// by anybody, retention included.
type Hold struct {
	Tenant TenantID  `json:"tenant"`
	Scope  string    `json:"scope"`  // HoldAsset or HoldCollection
	Target string    `json:"target"` // asset id or collection name
	Reason string    `json:"reason"`
	SetBy  string    `json:"set_by"`
	Since  time.Time `json:"since"`
}

// Deletion reasons.
const (
	DeletedByUser      = "user"
	DeletedByRetention = "retention"
)

// DeletionRecord is what stays of a deleted asset: what it was, when and by
// whom it was deleted, and why. It is written in the same transaction as the
// deletion and its audit event.
type DeletionRecord struct {
	ID         int64     `json:"id"`
	Tenant     TenantID  `json:"tenant"`
	Asset      AssetID   `json:"asset"`
	Name       string    `json:"name"`
	Hash       Ref       `json:"hash"`
	Size       int64     `json:"size"`
	Kind       MediaKind `json:"kind"`
	Collection string    `json:"collection"`
	DurationMS int64     `json:"duration_ms,omitempty"`
	Created    time.Time `json:"created"` // when the asset was stored
	Deleted    time.Time `json:"deleted"`
	Actor      string    `json:"actor"`
	Reason     string    `json:"reason"` // DeletedByUser or DeletedByRetention
	AuditSeq   int64     `json:"audit_seq"`
}

// Policy holds a tenant's limits, set by the operator.
type Policy struct {
	Tenant TenantID `json:"tenant"`
	// QuotaBytes caps the bytes of originals the tenant stores; 0: none.
	QuotaBytes int64 `json:"quota_bytes"`
	// Analyzers lists the analyzers that may run on the tenant's assets;
	// nil: all. The others are recorded as skipped.
	Analyzers []string  `json:"analyzers"`
	SetBy     string    `json:"set_by,omitempty"`
	Updated   time.Time `json:"updated,omitempty"`
}

// AllowsAnalyzer reports whether the policy lets analyzer name run.
func (p *Policy) AllowsAnalyzer(name string) bool {
	if p == nil || p.Analyzers == nil {
		return true
	}
	for _, a := range p.Analyzers {
		if a == name {
			return true
		}
	}
	return false
}

// DayBytes is the stored bytes at the end of one day (UTC).
type DayBytes struct {
	Day   string `json:"day"` // YYYY-MM-DD
	Bytes int64  `json:"bytes"`
}

// KindUsage is what a tenant stores of one media kind.
type KindUsage struct {
	Kind       MediaKind `json:"kind"`
	Assets     int       `json:"assets"`
	Bytes      int64     `json:"bytes"`
	MediaHours float64   `json:"media_hours"`
}

// Usage is a usage report: figures only, never names of content.
type Usage struct {
	Tenant TenantID `json:"tenant,omitempty"` // empty: all tenants together
	From   string   `json:"from"`             // first day, YYYY-MM-DD
	To     string   `json:"to"`               // last day, YYYY-MM-DD
	// StoredBytes is the bytes of originals stored at the end of each day.
	StoredBytes []DayBytes  `json:"stored_bytes"`
	Kinds       []KindUsage `json:"kinds"` // now
	// Analyses counts the analyzer runs completed in the period, by analyzer.
	Analyses  map[string]int `json:"analyses"`
	Searches  int            `json:"searches"`
	Exports   int            `json:"exports"`
	Uploads   int            `json:"uploads"`
	Deletions int            `json:"deletions"`
}

// OperatorUsage is the operator's view: every tenant's figures and totals.
type OperatorUsage struct {
	From    string   `json:"from"`
	To      string   `json:"to"`
	Total   *Usage   `json:"total"`
	Tenants []*Usage `json:"tenants"`
}

// WriteUsageCSV writes reports as CSV rows of tenant,metric,key,day,value:
// stored_bytes per day; assets, bytes and media_hours per kind (day: the
// last day of the period); analyses per analyzer, and searches, exports,
// uploads and deletions over the period (day empty). The tenant column is
// "*" for the total of all tenants.
func WriteUsageCSV(w io.Writer, us ...*Usage) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"tenant", "metric", "key", "day", "value"})
	for _, u := range us {
		t := string(u.Tenant)
		if t == "" {
			t = "*"
		}
		for _, d := range u.StoredBytes {
			_ = cw.Write([]string{t, "stored_bytes", "", d.Day, strconv.FormatInt(d.Bytes, 10)})
		}
		for _, k := range u.Kinds {
			_ = cw.Write([]string{t, "assets", string(k.Kind), u.To, strconv.Itoa(k.Assets)})
			_ = cw.Write([]string{t, "bytes", string(k.Kind), u.To, strconv.FormatInt(k.Bytes, 10)})
			_ = cw.Write([]string{t, "media_hours", string(k.Kind), u.To, strconv.FormatFloat(k.MediaHours, 'f', 4, 64)})
		}
		names := make([]string, 0, len(u.Analyses))
		for n := range u.Analyses {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			_ = cw.Write([]string{t, "analyses", n, "", strconv.Itoa(u.Analyses[n])})
		}
		for _, m := range []struct {
			name string
			n    int
		}{{"searches", u.Searches}, {"exports", u.Exports}, {"uploads", u.Uploads}, {"deletions", u.Deletions}} {
			_ = cw.Write([]string{t, m.name, "", "", strconv.Itoa(m.n)})
		}
	}
	cw.Flush()
	return cw.Error()
}

// DueAsset is an asset that its tenant's retention rule says is due for
// deletion.
type DueAsset struct {
	Tenant TenantID
	ID     AssetID
	Days   int // the rule's days
	All    bool
}
