// Package httpapi is the REST API of glasshouse: JSON over HTTP under /api,
// its OpenAPI document at /api/openapi.json, a liveness probe at /healthz and
// the embedded web page at /.
//
// The API does no storage or analysis itself; it maps HTTP requests onto a
// Service (implemented by package app) and the Service's errors onto HTTP
// status codes with stable, machine-readable error codes.
package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/search"
	"github.com/glasshouse/glasshouse/web"
)

// Service is what the API needs from the application. Every method that
// takes an actor is expected to check and audit access itself.
type Service interface {
	// Ingest stores body as a new asset. It returns only after the blob is
	// durable and the asset row committed. If body returns an error, Ingest
	// must fail and store nothing. duplicate reports that the tenant already
	// had this content and a is the existing asset.
	Ingest(ctx context.Context, actor glasshouse.Actor, name, collection string, body io.Reader) (a *glasshouse.Asset, duplicate bool, err error)
	// GetAsset returns the asset with its analyzer runs; audited as a view.
	GetAsset(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID) (*glasshouse.Asset, error)
	ListAssets(ctx context.Context, actor glasshouse.Actor, f glasshouse.AssetFilter) (*glasshouse.AssetPage, error)
	// Search runs a query over the actor's tenant; audited with the query.
	Search(ctx context.Context, actor glasshouse.Actor, q search.Query) (*search.Hits, error)
	// OpenContent opens which ("original", "thumb" or "poster") of the
	// asset; audited as a download for the original.
	OpenContent(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID, which string) (*glasshouse.Content, error)
	DeleteAsset(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID) error
	// Export renders captions (vtt, srt) or insights (json, csv); audited.
	Export(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID, format string) (*glasshouse.Content, error)
	// PatchAsset changes the note and/or collection (nil: unchanged); audited.
	PatchAsset(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID, note, collection *string) (*glasshouse.Asset, error)
	// Jobs lists the jobs of the asset, or of the whole tenant when id is "".
	Jobs(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID) ([]glasshouse.Job, error)
	Insights(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID) (*glasshouse.Insights, error)
	AuditEvents(ctx context.Context, actor glasshouse.Actor, after int64, limit int) ([]glasshouse.AuditEvent, error)
	Status(ctx context.Context) (*glasshouse.Status, error)
	// OpenBlob opens a derived blob (a keyframe) of one of the actor's assets.
	OpenBlob(ctx context.Context, actor glasshouse.Actor, ref glasshouse.Ref) (*glasshouse.Content, error)
}

// Options configure the handler.
type Options struct {
	// Logger receives request logs and internal errors; nil means slog.Default().
	Logger *slog.Logger
	// MaxUploadBytes caps the body of one upload request (all files of a
	// multipart upload together); <= 0 means no limit.
	MaxUploadBytes int64
	// Version is reported by /healthz and, when the service leaves it
	// empty, by /api/status.
	Version string
	// UploadDir holds partial resumable (tus) uploads; empty disables the
	// tus endpoint at /api/uploads/.
	UploadDir string
	// Accounts signs callers in and checks sessions and tokens; nil means
	// nobody can sign in and only public routes answer.
	Accounts Accounts
	// SecureCookies marks the session cookie Secure (sent over HTTPS only,
	// and named with the __Host- prefix). Set it whenever users reach the
	// server over TLS, directly or through a proxy.
	SecureCookies bool
}

// api holds the handler's dependencies; one per New call, no globals.
type api struct {
	svc  Service
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux // the routes of routeTable only
	web  http.Handler
	tus  http.Handler // resumable uploads; nil when disabled

	accounts Accounts
	csrf     *http.CrossOriginProtection
}

// New returns the HTTP handler of the API and the web page.
func New(svc Service, opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	a := &api{svc: svc, opts: opts, log: opts.Logger, mux: http.NewServeMux(), web: web.Handler(),
		accounts: opts.Accounts, csrf: http.NewCrossOriginProtection()}
	for _, rt := range a.routes() {
		a.mux.Handle(rt.Method+" "+rt.Pattern, a.withPerm(rt.Perm, rt.Handler))
	}
	if opts.UploadDir != "" {
		if th, err := a.newTus(opts.UploadDir); err != nil {
			a.log.Error("resumable uploads disabled", "err", err)
		} else {
			a.tus = th
		}
	}
	return a.middleware(http.HandlerFunc(a.dispatch))
}

// dispatch sends a request to its route, or answers JSON 404/405 for API
// paths, or hands it to the web page.
func (a *api) dispatch(w http.ResponseWriter, r *http.Request) {
	if a.tus != nil && (r.URL.Path == "/api/uploads" || strings.HasPrefix(r.URL.Path, UploadsPath)) {
		if r = a.guard(w, r, UploadsPerm); r != nil {
			a.tus.ServeHTTP(w, r)
		}
		return
	}
	if _, pattern := a.mux.Handler(r); pattern != "" {
		a.mux.ServeHTTP(w, r)
		return
	}
	if isAPIPath(r.URL.Path) {
		if allow := a.allowedMethods(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeErrorCode(w, http.StatusMethodNotAllowed, "method_not_allowed",
				"method "+r.Method+" is not allowed on "+r.URL.Path)
			return
		}
		writeErrorCode(w, http.StatusNotFound, "not_found", "no route for "+r.URL.Path)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeErrorCode(w, http.StatusMethodNotAllowed, "method_not_allowed",
			"method "+r.Method+" is not allowed on "+r.URL.Path)
		return
	}
	a.web.ServeHTTP(&jsonNotFound{ResponseWriter: w, path: r.URL.Path}, r)
}

func isAPIPath(p string) bool {
	return p == "/api" || strings.HasPrefix(p, "/api/") || p == "/healthz"
}

// allowedMethods lists the methods some route accepts for r's path.
func (a *api) allowedMethods(r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := a.mux.Handler(probe); pattern != "" {
			allow = append(allow, m)
		}
	}
	return allow
}

// jsonNotFound turns the web file server's plain-text 404 into the API's
// JSON error, so every unknown route answers the same way.
type jsonNotFound struct {
	http.ResponseWriter
	path     string
	swallow  bool
	informed bool
}

func (j *jsonNotFound) WriteHeader(code int) {
	if j.informed {
		return
	}
	j.informed = true
	if code == http.StatusNotFound {
		j.swallow = true
		h := j.ResponseWriter.Header()
		h.Del("Content-Length")
		h.Del("X-Content-Type-Options")
		writeErrorCode(j.ResponseWriter, http.StatusNotFound, "not_found", "no route for "+j.path)
		return
	}
	j.ResponseWriter.WriteHeader(code)
}

func (j *jsonNotFound) Write(p []byte) (int, error) {
	if !j.informed {
		j.WriteHeader(http.StatusOK)
	}
	if j.swallow {
		return len(p), nil
	}
	return j.ResponseWriter.Write(p)
}

func (j *jsonNotFound) Unwrap() http.ResponseWriter { return j.ResponseWriter }
