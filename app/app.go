// Package app wires the backends together: it is the service behind the
// HTTP API and the CLI. It ingests media (blob store + catalog + jobs in one
// step), runs analyzer jobs with leases, keeps the search index in step with
// results, and records every read and change in the audit log.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/auth"
	"github.com/glasshouse/glasshouse/blobstore"
	"github.com/glasshouse/glasshouse/media"
	"github.com/glasshouse/glasshouse/redact"
	"github.com/glasshouse/glasshouse/search"
)

// Version is the glasshouse version reported by the status endpoint.
const Version = "0.1.0"

// Store is everything the app needs from the catalog backend.
type Store interface {
	glasshouse.Catalog
	glasshouse.Queue
	glasshouse.AuditLog
	auth.Store
	JobCounts(ctx context.Context) (map[glasshouse.JobState]int, error)
	ResetRunning(ctx context.Context) (int, error)
	// BlobOwner returns an asset of the tenant that references ref (as its
	// original, thumbnail, poster or a result blob), or ErrNotExist.
	BlobOwner(ctx context.Context, tenant glasshouse.TenantID, ref glasshouse.Ref) (glasshouse.AssetID, error)
	// AssetsWithoutJob lists jobs to enqueue for assets that never had a
	// job of analyzer kind at version.
	// TakeOrphans returns (and forgets) blobs that only a replaced result
	// referenced.
	TakeOrphans(ctx context.Context) ([]glasshouse.Ref, error)
	// PatchAsset stores note, collection and legal hold with ev, atomically.
	PatchAsset(ctx context.Context, a *glasshouse.Asset, ev glasshouse.AuditEvent) error
	AssetsWithoutJob(ctx context.Context, kind, version string, mediaKinds []glasshouse.MediaKind, limit int) ([]glasshouse.Job, error)
	Close() error

	// Retention, legal holds, deletion records, policy and usage.
	SetRetention(ctx context.Context, r glasshouse.RetentionRule, ev glasshouse.AuditEvent) error
	DeleteRetention(ctx context.Context, tenant glasshouse.TenantID, all bool, collection string, ev glasshouse.AuditEvent) error
	RetentionRules(ctx context.Context, tenant glasshouse.TenantID) ([]glasshouse.RetentionRule, error)
	DueAssets(ctx context.Context, now time.Time) ([]glasshouse.DueAsset, error)
	SetHold(ctx context.Context, h glasshouse.Hold, ev glasshouse.AuditEvent) error
	ReleaseHold(ctx context.Context, tenant glasshouse.TenantID, scope, target string, ev glasshouse.AuditEvent) error
	Holds(ctx context.Context, tenant glasshouse.TenantID) ([]glasshouse.Hold, error)
	DeletionRecords(ctx context.Context, tenant glasshouse.TenantID, from, to time.Time) ([]glasshouse.DeletionRecord, error)
	Policy(ctx context.Context, tenant glasshouse.TenantID) (*glasshouse.Policy, error)
	SetPolicy(ctx context.Context, p *glasshouse.Policy, ev glasshouse.AuditEvent) error
	Tenants(ctx context.Context) ([]glasshouse.TenantID, error)
	UsageReport(ctx context.Context, tenant glasshouse.TenantID, from, to time.Time) (*glasshouse.Usage, error)
}

// Config configures an App. Zero values get sensible defaults.
type Config struct {
	DataDir  string // default ./glasshouse-data
	BlobsURL string // default file://<DataDir>/blobs
	DBURL    string // default sqlite://<DataDir>/glasshouse.db
	Logger   *slog.Logger

	// Analyzers are run as queued jobs on every asset they accept.
	Analyzers []glasshouse.Analyzer
	// Derived analyzers run right after the analyzers they depend on
	// (keywords after speech and OCR), reading the stored insights.
	Derived []glasshouse.Analyzer
	// Unavailable lists analyzers that could not be set up (missing model),
	// shown in the status with the reason.
	Unavailable []glasshouse.AnalyzerStatus

	Workers        int           // jobs run at once; default 1 (analyzers parallelise inside)
	Lease          time.Duration // job lease; default 2 minutes
	MaxAttempts    int           // default 3
	Limits         media.Limits  // for ffprobe/ffmpeg at ingest
	MaxUploadBytes int64         // 0: unlimited
	// Redactor renders redacted copies (queued jobs of kind "redact"); nil
	// disables rendering (plans can still be edited).
	Redactor Redactor
	// Auth tunes sessions, tokens and sign-in rate limits.
	Auth auth.Config
	// AllowedTypes limits ingest to these media types ("video/mp4",
	// "image/*"); empty: every supported type.
	AllowedTypes []string
	// Preflight bounds picture size, duration and streams, checked before
	// anything is decoded; zero fields take media.DefaultPreflight.
	Preflight media.PreflightLimits
	// SoleWorker says this process is the only worker (embedded mode): on
	// start, jobs left running by a killed process are requeued at once
	// instead of waiting for their leases to expire.
	SoleWorker bool
}

// App is the glasshouse service.
type App struct {
	cfg   Config
	log   *slog.Logger
	blobs glasshouse.BlobStore
	db    Store
	index search.Index
	plans redact.Store // redaction plans and renders; nil if the backend has none
	auth  *auth.Service

	analyzers map[string]glasshouse.Analyzer
	derived   []glasshouse.Analyzer

	mu      sync.Mutex
	pending map[glasshouse.Ref]int // in-flight ingests per blob, guards cleanup

	wg sync.WaitGroup
}

// Open opens (creating if needed) the data folder or the configured backends.
func Open(ctx context.Context, cfg Config) (*App, error) {
	if cfg.DataDir == "" {
		cfg.DataDir = "glasshouse-data"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	if err := media.CheckAllowList(cfg.AllowedTypes); err != nil {
		return nil, fmt.Errorf("app.Open: allowed types: %w", err)
	}
	if cfg.Limits == (media.Limits{}) {
		cfg.Limits = media.Limits{Timeout: 2 * time.Minute, MaxBytes: 4 << 30}
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("app.Open: %w", err)
	}
	cfg.DataDir = abs
	if cfg.BlobsURL == "" || cfg.DBURL == "" {
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, fmt.Errorf("app.Open: create data folder: %w", err)
		}
	}
	if cfg.BlobsURL == "" {
		cfg.BlobsURL = "file://" + filepath.Join(abs, "blobs")
	}
	if cfg.DBURL == "" {
		cfg.DBURL = "sqlite://" + filepath.Join(abs, "glasshouse.db")
	}
	a := &App{cfg: cfg, log: cfg.Logger, analyzers: map[string]glasshouse.Analyzer{}, derived: cfg.Derived, pending: map[glasshouse.Ref]int{}}
	for _, an := range cfg.Analyzers {
		a.analyzers[an.Name()] = an
	}
	a.blobs, err = blobstore.Open(ctx, cfg.BlobsURL, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("app.Open: blobs %s: %w", redactURL(cfg.BlobsURL), err)
	}
	db, idx, err := openDB(ctx, cfg.DBURL, cfg.Logger)
	if err != nil {
		a.blobs.Close()
		return nil, fmt.Errorf("app.Open: db %s: %w", redactURL(cfg.DBURL), err)
	}
	a.db = db
	if ps, ok := db.(redact.Store); ok {
		a.plans = ps
	}
	a.index = idx
	if cfg.Auth.Logger == nil {
		cfg.Auth.Logger = cfg.Logger
	}
	a.auth = auth.NewService(db, cfg.Auth)
	return a, nil
}

// Close stops using the backends. Call after the workers have stopped.
func (a *App) Close() error {
	a.wg.Wait()
	return errors.Join(a.db.Close(), a.blobs.Close())
}

// DB returns the catalog backend (for admin commands and tests).
func (a *App) DB() Store { return a.db }

// Auth returns the accounts service: tenants, users, sessions, tokens.
func (a *App) Auth() *auth.Service { return a.auth }

// Blobs returns the blob store.
func (a *App) Blobs() glasshouse.BlobStore { return a.blobs }

// Config returns the effective configuration.
func (a *App) Config() Config { return a.cfg }

// Status reports versions, analyzers and job counts.
func (a *App) Status(ctx context.Context) (*glasshouse.Status, error) {
	st := &glasshouse.Status{Version: Version, Blobs: scheme(a.cfg.BlobsURL), DB: scheme(a.cfg.DBURL)}
	all := append(append([]glasshouse.Analyzer{}, a.cfg.Analyzers...), a.derived...)
	for _, an := range all {
		as := glasshouse.AnalyzerStatus{Name: an.Name(), Version: an.Version(), Enabled: true}
		for _, k := range []glasshouse.MediaKind{glasshouse.KindImage, glasshouse.KindAudio, glasshouse.KindVideo} {
			if an.Accepts(k) {
				as.Kinds = append(as.Kinds, string(k))
			}
		}
		if m, ok := an.(interface{ Model() glasshouse.ModelInfo }); ok {
			as.Model = m.Model()
			as.Enabled = as.Model.Available
		} else {
			as.Model = glasshouse.ModelInfo{Available: true}
		}
		st.Analyzers = append(st.Analyzers, as)
	}
	st.Analyzers = append(st.Analyzers, a.cfg.Unavailable...)
	jc, err := a.db.JobCounts(ctx)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	st.Jobs = jc
	return st, nil
}

func scheme(u string) string {
	if i := strings.Index(u, "://"); i > 0 {
		return u[:i]
	}
	return "file"
}

// redactURL hides a password in a URL for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

// DefaultWorkers is the number of CPU cores, the bound for analyzer pools.
func DefaultWorkers() int { return runtime.NumCPU() }
