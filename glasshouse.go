// Package glasshouse holds the domain types and core interfaces of glasshouse,
// a self-hosted, accountable archive for images, audio and video.
//
// Backends (blob stores, catalogs, queues, indexes) live in subpackages and
// implement the interfaces defined here. Face detection exists only to blur
// and count faces: there is no face recognition, matching, embedding,
// clustering or emotion inference anywhere in glasshouse, by design.
package glasshouse

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// ---------------------------------------------------------------------------
// Errors

// Sentinel error kinds. Every backend maps its own failures to one of these,
// so callers test with errors.Is(err, glasshouse.ErrNotExist).
var (
	ErrNotExist    = errors.New("not found")
	ErrExist       = errors.New("already exists")
	ErrInvalid     = errors.New("invalid input")
	ErrUnsupported = errors.New("unsupported media")
	ErrPermission  = errors.New("permission denied")
	ErrTooLarge    = errors.New("too large")
	ErrUnavailable = errors.New("temporarily unavailable")
	ErrConflict    = errors.New("conflict")
	ErrCorrupt     = errors.New("corrupt data")
	// ErrQuota: storing this would take the tenant over its storage quota.
	ErrQuota = errors.New("quota exceeded")
)

// Error carries the operation that failed, its kind (one of the sentinels
// above) and the underlying cause. errors.Is matches both Kind and Err.
type Error struct {
	Op   string // operation, e.g. "blobstore.Put" or "ingest"
	Kind error  // one of the Err* sentinels; nil if unknown
	Err  error  // underlying cause; may be nil
	Msg  string // human message naming the problem; optional
}

// E builds an *Error. msg may be empty.
func E(op string, kind error, err error, msg string) error {
	return &Error{Op: op, Kind: kind, Err: err, Msg: msg}
}

// Errorf builds an *Error with a formatted message and no cause.
func Errorf(op string, kind error, format string, args ...any) error {
	return &Error{Op: op, Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	s := e.Op + ": "
	switch {
	case e.Msg != "" && e.Err != nil:
		s += e.Msg + ": " + e.Err.Error()
	case e.Msg != "":
		s += e.Msg
	case e.Err != nil:
		s += e.Err.Error()
	case e.Kind != nil:
		s += e.Kind.Error()
	}
	return s
}

// Unwrap exposes both the kind and the cause to errors.Is / errors.As.
func (e *Error) Unwrap() []error {
	var out []error
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// ErrorCode returns a stable, machine-readable code for err, used by the API.
func ErrorCode(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrNotExist):
		return "not_found"
	case errors.Is(err, ErrExist):
		return "already_exists"
	case errors.Is(err, ErrInvalid):
		return "invalid"
	case errors.Is(err, ErrUnsupported):
		return "unsupported_media"
	case errors.Is(err, ErrPermission):
		return "permission_denied"
	case errors.Is(err, ErrQuota):
		return "quota_exceeded"
	case errors.Is(err, ErrTooLarge):
		return "too_large"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.Is(err, ErrConflict):
		return "conflict"
	case errors.Is(err, ErrCorrupt):
		return "corrupt"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	default:
		return "internal"
	}
}

// ---------------------------------------------------------------------------
// Identifiers

// TenantID names a tenant. The embedded default has one tenant, "default".
type TenantID string

// DefaultTenant is the tenant used when no sign-in is configured.
const DefaultTenant TenantID = "default"

// AssetID identifies an asset (a UUIDv7 string, sortable by creation time).
type AssetID string

// Ref is the content address of a blob: "sha256-" followed by 64 lowercase
// hex digits. The zero Ref is invalid.
type Ref string

// RefPrefix is the only hash scheme glasshouse writes.
const RefPrefix = "sha256-"

// ParseRef checks s and returns it as a Ref.
func ParseRef(s string) (Ref, error) {
	if len(s) != len(RefPrefix)+64 || s[:len(RefPrefix)] != RefPrefix {
		return "", Errorf("ParseRef", ErrInvalid, "malformed blob ref %q", s)
	}
	if _, err := hex.DecodeString(s[len(RefPrefix):]); err != nil {
		return "", Errorf("ParseRef", ErrInvalid, "malformed blob ref %q", s)
	}
	for _, c := range s[len(RefPrefix):] {
		if c >= 'A' && c <= 'F' {
			return "", Errorf("ParseRef", ErrInvalid, "blob ref %q must be lowercase", s)
		}
	}
	return Ref(s), nil
}

// RefFromSum builds a Ref from a raw SHA-256 digest.
func RefFromSum(sum []byte) Ref { return Ref(RefPrefix + hex.EncodeToString(sum)) }

// Hex returns the hex digest part of the ref.
func (r Ref) Hex() string {
	if len(r) <= len(RefPrefix) {
		return ""
	}
	return string(r[len(RefPrefix):])
}

func (r Ref) String() string { return string(r) }

// Valid reports whether r is well formed.
func (r Ref) Valid() bool { _, err := ParseRef(string(r)); return err == nil }

// ---------------------------------------------------------------------------
// Blobs

// BlobStore is a content-addressed store. Put computes the SHA-256 itself
// while streaming; the blob becomes visible under its Ref only when it is
// complete and durable. Storing the same content twice stores it once.
type BlobStore interface {
	Put(ctx context.Context, r io.Reader) (ref Ref, size int64, err error)
	// Open returns a reader for the byte range [off, off+length) of the blob;
	// length < 0 means to the end. Missing blobs give ErrNotExist.
	Open(ctx context.Context, ref Ref, off, length int64) (io.ReadCloser, error)
	Stat(ctx context.Context, ref Ref) (size int64, err error)
	Delete(ctx context.Context, ref Ref) error
	// LocalPath returns a path on this machine that holds the blob, if the
	// store keeps blobs as plain files (file://); ok is false otherwise.
	LocalPath(ref Ref) (path string, ok bool)
	Close() error
}

// ---------------------------------------------------------------------------
// Assets

// MediaKind is the broad class of an asset.
type MediaKind string

const (
	KindImage MediaKind = "image"
	KindAudio MediaKind = "audio"
	KindVideo MediaKind = "video"
)

// Asset is one stored file and what is known about it.
type Asset struct {
	ID         AssetID    `json:"id"`
	Tenant     TenantID   `json:"tenant"`
	Collection string     `json:"collection"`
	Name       string     `json:"name"`       // sanitised original file name
	MediaType  string     `json:"media_type"` // MIME type sniffed from content
	Kind       MediaKind  `json:"kind"`
	Size       int64      `json:"size"`
	Hash       Ref        `json:"hash"`
	Probe      *ProbeInfo `json:"probe,omitempty"`
	Thumb      Ref        `json:"thumb,omitempty"`  // small JPEG
	Poster     Ref        `json:"poster,omitempty"` // full-size JPEG frame
	Note       string     `json:"note,omitempty"`
	LegalHold  bool       `json:"legal_hold,omitempty"`
	Created    time.Time  `json:"created"`
	// Runs is filled by GetAsset: the latest state of each analyzer.
	Runs []AnalyzerRun `json:"runs,omitempty"`
}

// ProbeInfo is container metadata read by ffprobe.
type ProbeInfo struct {
	Format       string     `json:"format"`
	DurationMS   int64      `json:"duration_ms"`
	BitRate      int64      `json:"bit_rate,omitempty"`
	Width        int        `json:"width,omitempty"`
	Height       int        `json:"height,omitempty"`
	Rotation     int        `json:"rotation,omitempty"`
	FrameRate    float64    `json:"frame_rate,omitempty"`
	CreationTime *time.Time `json:"creation_time,omitempty"`
	Streams      []Stream   `json:"streams"`
}

// Stream is one stream of a media container.
type Stream struct {
	Index      int     `json:"index"`
	Type       string  `json:"type"` // video, audio, subtitle, data
	Codec      string  `json:"codec"`
	Width      int     `json:"width,omitempty"`
	Height     int     `json:"height,omitempty"`
	FrameRate  float64 `json:"frame_rate,omitempty"`
	SampleRate int     `json:"sample_rate,omitempty"`
	Channels   int     `json:"channels,omitempty"`
	Language   string  `json:"language,omitempty"`
	DurationMS int64   `json:"duration_ms,omitempty"`
	Rotation   int     `json:"rotation,omitempty"`
}

// AssetFilter selects assets for listing.
type AssetFilter struct {
	Tenant     TenantID
	Collection string    // empty: all
	Kind       MediaKind // empty: all
	Sort       string    // "newest" (default), "oldest", "name", "size" (largest first)
	Cursor     string    // opaque, from a previous page
	Limit      int       // 0: backend default (50)
}

// AssetPage is one page of a listing.
type AssetPage struct {
	Assets []*Asset `json:"assets"`
	Next   string   `json:"next,omitempty"` // cursor for the next page; empty at the end
	Total  int      `json:"total"`
}

// ---------------------------------------------------------------------------
// Audit

// Actor is who did something.
type Actor struct {
	Tenant TenantID `json:"tenant"`
	User   string   `json:"user"`             // user name, token id, or "system"
	Remote string   `json:"remote,omitempty"` // client address, if any
}

// System is the actor for work glasshouse does by itself (jobs, retention).
func System(t TenantID) Actor { return Actor{Tenant: t, User: "system"} }

// AuditEvent is one entry of the hash-chained audit log.
type AuditEvent struct {
	Seq      int64           `json:"seq"`
	Time     time.Time       `json:"time"`
	Tenant   TenantID        `json:"tenant"`
	Actor    string          `json:"actor"`
	Remote   string          `json:"remote,omitempty"`
	Action   string          `json:"action"` // upload, view, download, search, analyze, export, delete, ...
	Target   string          `json:"target,omitempty"`
	Detail   json.RawMessage `json:"detail,omitempty"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

// NewEvent builds an event for actor; detail is marshalled to JSON (nil for none).
func NewEvent(a Actor, action, target string, detail any) AuditEvent {
	ev := AuditEvent{Tenant: a.Tenant, Actor: a.User, Remote: a.Remote, Action: action, Target: target}
	if detail != nil {
		if b, err := json.Marshal(detail); err == nil {
			ev.Detail = b
		}
	}
	return ev
}

// ComputeHash returns the chain hash of e: SHA-256 over a canonical JSON
// encoding of every field but Hash (PrevHash included), hex encoded. Time is
// encoded in UTC with nanoseconds, so the stored value must round-trip.
func (e AuditEvent) ComputeHash() string {
	canon := struct {
		Seq      int64           `json:"seq"`
		Time     string          `json:"time"`
		Tenant   TenantID        `json:"tenant"`
		Actor    string          `json:"actor"`
		Remote   string          `json:"remote"`
		Action   string          `json:"action"`
		Target   string          `json:"target"`
		Detail   json.RawMessage `json:"detail"`
		PrevHash string          `json:"prev_hash"`
	}{e.Seq, e.Time.UTC().Format(time.RFC3339Nano), e.Tenant, e.Actor, e.Remote, e.Action, e.Target, canonDetail(e.Detail), e.PrevHash}
	b, _ := json.Marshal(canon)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func canonDetail(d json.RawMessage) json.RawMessage {
	if len(d) == 0 {
		return json.RawMessage("null")
	}
	var v any
	if err := json.Unmarshal(d, &v); err != nil {
		return d
	}
	b, _ := json.Marshal(v) // maps marshal with sorted keys
	return b
}

// AuditLog stores the hash chain. Append assigns Seq, Time, PrevHash and Hash.
type AuditLog interface {
	Append(ctx context.Context, ev AuditEvent) (AuditEvent, error)
	// Events returns events with Seq > after, in order, at most limit (0: all).
	Events(ctx context.Context, tenant TenantID, after int64, limit int) ([]AuditEvent, error)
}

// ---------------------------------------------------------------------------
// Jobs

// JobState is the state of a queued job.
type JobState string

const (
	JobQueued  JobState = "queued"
	JobRunning JobState = "running"
	JobDone    JobState = "done"
	JobFailed  JobState = "failed" // gave up after MaxAttempts
	// JobSkipped is a run that did not happen by policy (the tenant may not
	// use the analyzer); AnalyzerRun.Error says why.
	JobSkipped JobState = "skipped"
)

// Job is one unit of work: run analyzer Kind (at Version) on Asset.
type Job struct {
	ID          int64     `json:"id"`
	Tenant      TenantID  `json:"tenant"`
	Asset       AssetID   `json:"asset"`
	Kind        string    `json:"kind"`
	Version     string    `json:"version"`
	State       JobState  `json:"state"`
	Attempts    int       `json:"attempts"`
	MaxAttempts int       `json:"max_attempts"`
	RunAfter    time.Time `json:"run_after"`
	Progress    float64   `json:"progress"` // 0..1
	LastError   string    `json:"last_error,omitempty"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
}

// Lease is a claimed job; it is the worker's until Expires.
type Lease struct {
	Job     Job
	Token   string
	Expires time.Time
}

// Queue is a durable job queue with leases. Enqueue is idempotent on
// (asset, kind, version): a job that exists is not added again.
type Queue interface {
	Enqueue(ctx context.Context, jobs ...Job) error
	Claim(ctx context.Context, kinds []string, max int, lease time.Duration) ([]*Lease, error)
	Extend(ctx context.Context, l *Lease, d time.Duration) error
	SetProgress(ctx context.Context, l *Lease, frac float64) error
	Ack(ctx context.Context, l *Lease) error
	// Nack returns the job to the queue to run after retryAfter, or marks it
	// failed when its attempts are used up.
	Nack(ctx context.Context, l *Lease, retryAfter time.Duration, cause error) error
	Jobs(ctx context.Context, tenant TenantID, asset AssetID) ([]Job, error)
}

// ---------------------------------------------------------------------------
// Insights (the result schema, see DESIGN.md)

// Box is a rectangle in normalised coordinates (0..1 of width and height).
type Box struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	W float64 `json:"w"`
	H float64 `json:"h"`
}

// TimeRange is a span of media time in milliseconds.
type TimeRange struct {
	StartMS int64 `json:"start_ms"`
	EndMS   int64 `json:"end_ms"`
}

// Word is one recognised word with its time and confidence.
type Word struct {
	Text       string  `json:"text"`
	StartMS    int64   `json:"start_ms"`
	EndMS      int64   `json:"end_ms"`
	Confidence float64 `json:"confidence"`
}

// TranscriptSegment is a stretch of speech between pauses.
type TranscriptSegment struct {
	Track      int     `json:"track"` // audio stream index
	StartMS    int64   `json:"start_ms"`
	EndMS      int64   `json:"end_ms"`
	Text       string  `json:"text"`
	Confidence float64 `json:"confidence"`
	Words      []Word  `json:"words,omitempty"`
}

// OCRText is text read off the picture over a time range.
type OCRText struct {
	Text       string  `json:"text"`
	StartMS    int64   `json:"start_ms"`
	EndMS      int64   `json:"end_ms"`
	Box        Box     `json:"box"`
	Confidence float64 `json:"confidence"`
}

// Shot is a run of frames between two cuts.
type Shot struct {
	Index   int   `json:"index"`
	StartMS int64 `json:"start_ms"`
	EndMS   int64 `json:"end_ms"`
}

// Keyframe is a representative frame, stored as a JPEG blob.
type Keyframe struct {
	Shot   int   `json:"shot"`
	TimeMS int64 `json:"time_ms"`
	Image  Ref   `json:"image,omitempty"`
	Thumb  Ref   `json:"thumb,omitempty"`
}

// TimedBox is a box seen at a moment.
type TimedBox struct {
	TimeMS int64   `json:"time_ms"`
	Box    Box     `json:"box"`
	Score  float64 `json:"score"`
}

// Label is an object or scene class seen in the media.
type Label struct {
	Name       string      `json:"name"`
	Confidence float64     `json:"confidence"`
	Ranges     []TimeRange `json:"ranges"`
	Boxes      []TimedBox  `json:"boxes,omitempty"`
}

// Face is a detected face: a box over a time range and a score. Never an
// identity: glasshouse does not recognise, match or embed faces.
type Face struct {
	StartMS int64      `json:"start_ms"`
	EndMS   int64      `json:"end_ms"`
	Box     Box        `json:"box"`
	Score   float64    `json:"score"`
	Boxes   []TimedBox `json:"boxes,omitempty"` // per-frame boxes, if sampled
}

// Keyword is a salient word or phrase.
type Keyword struct {
	Text   string      `json:"text"`
	Score  float64     `json:"score"`
	Count  int         `json:"count"`
	Ranges []TimeRange `json:"ranges,omitempty"`
}

// AnalyzerRun records which analyzer version ran on an asset, when, with
// which model.
type AnalyzerRun struct {
	Name        string    `json:"name"`
	Version     string    `json:"version"`
	State       JobState  `json:"state"`
	Model       string    `json:"model,omitempty"`
	ModelSHA256 string    `json:"model_sha256,omitempty"`
	Started     time.Time `json:"started,omitempty"`
	DurationMS  int64     `json:"duration_ms,omitempty"`
	Error       string    `json:"error,omitempty"`
}

// Insights is the per-asset insight document (DESIGN.md "Insight schema").
// An analyzer fills only its own fields.
type Insights struct {
	Transcript []TranscriptSegment `json:"transcript,omitempty"`
	OCR        []OCRText           `json:"ocr,omitempty"`
	Shots      []Shot              `json:"shots,omitempty"`
	Keyframes  []Keyframe          `json:"keyframes,omitempty"`
	Labels     []Label             `json:"labels,omitempty"`
	Faces      []Face              `json:"faces,omitempty"`
	Keywords   []Keyword           `json:"keywords,omitempty"`
	Probe      *ProbeInfo          `json:"probe,omitempty"`
	Analyzers  []AnalyzerRun       `json:"analyzers,omitempty"`
}

// Merge adds the fields of o into in (used to assemble the per-asset document
// from one Result per analyzer).
func (in *Insights) Merge(o *Insights) {
	if o == nil {
		return
	}
	in.Transcript = append(in.Transcript, o.Transcript...)
	in.OCR = append(in.OCR, o.OCR...)
	in.Shots = append(in.Shots, o.Shots...)
	in.Keyframes = append(in.Keyframes, o.Keyframes...)
	in.Labels = append(in.Labels, o.Labels...)
	in.Faces = append(in.Faces, o.Faces...)
	in.Keywords = append(in.Keywords, o.Keywords...)
	if o.Probe != nil {
		in.Probe = o.Probe
	}
	in.Analyzers = append(in.Analyzers, o.Analyzers...)
}

// Result is one analyzer's output for one asset.
type Result struct {
	Asset    AssetID     `json:"asset"`
	Tenant   TenantID    `json:"tenant"`
	Run      AnalyzerRun `json:"run"`
	Insights Insights    `json:"insights"`
	Blobs    []Ref       `json:"blobs,omitempty"` // derived blobs (keyframes) this result references
}

// ---------------------------------------------------------------------------
// Catalog

// Catalog stores assets and analysis results. Mutations take the audit event
// that records them and write it in the same transaction.
type Catalog interface {
	// CreateAsset inserts a (with a.ID set by the caller), enqueues jobs and
	// appends ev, all in one transaction.
	CreateAsset(ctx context.Context, a *Asset, jobs []Job, ev AuditEvent) error
	GetAsset(ctx context.Context, tenant TenantID, id AssetID) (*Asset, error)
	// FindAssetByHash returns the tenant's assets whose content is ref (for
	// de-duplicated uploads); an empty slice if none.
	FindAssetsByHash(ctx context.Context, tenant TenantID, ref Ref) ([]*Asset, error)
	ListAssets(ctx context.Context, f AssetFilter) (*AssetPage, error)
	// UpdateAsset stores the mutable fields (Probe, Thumb, Poster, Note, Collection, LegalHold).
	UpdateAsset(ctx context.Context, a *Asset) error
	// DeleteAsset removes the asset, its results and jobs and appends ev; it
	// returns the blobs no other asset or result references any more, for the
	// caller to delete from the blob store. ErrConflict if under legal hold.
	DeleteAsset(ctx context.Context, tenant TenantID, id AssetID, ev AuditEvent) (orphans []Ref, err error)
	// PutResult replaces the asset's previous result of the same analyzer
	// and records the run; ev is appended in the same transaction.
	PutResult(ctx context.Context, r *Result, ev AuditEvent) error
	// RecordRun stores a run without results (failed, or skipped).
	RecordRun(ctx context.Context, tenant TenantID, asset AssetID, run AnalyzerRun) error
	Results(ctx context.Context, tenant TenantID, id AssetID) ([]*Result, error)
	// BlobInUse reports whether any asset or result references ref.
	BlobInUse(ctx context.Context, ref Ref) (bool, error)
}

// ---------------------------------------------------------------------------
// Search

// Segment kinds in the index.
const (
	SegSpeech  = "speech"
	SegText    = "text" // OCR
	SegLabel   = "label"
	SegKeyword = "keyword"
	SegName    = "name"
	SegNote    = "note"
)

// Segment is one time-coded piece of searchable text.
type Segment struct {
	Asset      AssetID   `json:"asset"`
	Tenant     TenantID  `json:"tenant"`
	Collection string    `json:"collection"`
	MediaKind  MediaKind `json:"media_kind"`
	Kind       string    `json:"kind"` // one of Seg*
	Source     string    `json:"source"`
	StartMS    int64     `json:"start_ms"`
	EndMS      int64     `json:"end_ms"`
	Text       string    `json:"text"`
	Confidence float64   `json:"confidence"`
	Created    time.Time `json:"created"` // asset creation time, for after:/before:
}

// ---------------------------------------------------------------------------
// Analysis

// Input is what an analyzer gets: the asset, a local path to its media, a
// scratch directory, a place to store derived blobs and a progress callback.
type Input struct {
	Asset    *Asset
	Path     string // local file with the media (read-only)
	WorkDir  string // scratch directory, removed after the run
	Blobs    BlobStore
	Progress func(frac float64) // may be nil
	// Prior holds the insights already stored for the asset by other
	// analyzers (used by derived analyzers such as keywords); may be nil.
	Prior *Insights
}

// Analyzer produces insights for an asset.
type Analyzer interface {
	Name() string    // job kind and result key, e.g. "ocr"
	Version() string // bump to re-run on old assets
	Accepts(kind MediaKind) bool
	Analyze(ctx context.Context, in Input) (*Result, error)
}

// ModelInfo describes the model an analyzer uses, for the status page.
type ModelInfo struct {
	Name      string `json:"name"`
	Path      string `json:"path,omitempty"`
	SHA256    string `json:"sha256,omitempty"`
	Source    string `json:"source,omitempty"` // package and version it came from
	Available bool   `json:"available"`
	Problem   string `json:"problem,omitempty"` // why it is unavailable
}

// ---------------------------------------------------------------------------
// Service-level types shared by the API, the CLI and the app.

// Content is an open asset file (original, thumbnail or poster), seekable so
// that HTTP range requests work.
type Content struct {
	io.ReadSeekCloser
	Size      int64
	MediaType string
	Name      string
	Hash      Ref
	Modified  time.Time
}

// AnalyzerStatus tells whether an analyzer can run, and why not.
type AnalyzerStatus struct {
	Name    string    `json:"name"`
	Version string    `json:"version"`
	Kinds   []string  `json:"kinds"`
	Model   ModelInfo `json:"model"`
	Enabled bool      `json:"enabled"`
}

// Status is the server's health and configuration summary.
type Status struct {
	Version   string           `json:"version"`
	Blobs     string           `json:"blobs"` // backend scheme, e.g. "file"
	DB        string           `json:"db"`    // backend scheme, e.g. "sqlite"
	Analyzers []AnalyzerStatus `json:"analyzers"`
	Jobs      map[JobState]int `json:"jobs"`
}
