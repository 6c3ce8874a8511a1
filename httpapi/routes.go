package httpapi

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/auth"
	"github.com/glasshouse/glasshouse/search"
)

// route is one entry of the single route table that both the mux and the
// OpenAPI test use. Pattern is the ServeMux path pattern, which is also the
// OpenAPI path ({id}, {ref} are path parameters in both).
type route struct {
	Method  string
	Pattern string
	Handler http.HandlerFunc
	// Perm is the permission a caller needs; every route names one
	// (auth.Public for routes open to anybody).
	Perm auth.Permission
}

// routes is the route table.
func (a *api) routes() []route {
	return []route{
		{http.MethodPost, "/api/assets", a.upload, auth.AssetsWrite},
		{http.MethodGet, "/api/assets", a.listAssets, auth.AssetsRead},
		{http.MethodGet, "/api/assets/{id}", a.getAsset, auth.AssetsRead},
		{http.MethodDelete, "/api/assets/{id}", a.deleteAsset, auth.AssetsDelete},
		{http.MethodPatch, "/api/assets/{id}", a.patchAsset, auth.AssetsWrite},
		{http.MethodGet, "/api/assets/{id}/content", a.content("original"), auth.AssetsRead},
		{http.MethodGet, "/api/assets/{id}/thumb", a.content("thumb"), auth.AssetsRead},
		{http.MethodGet, "/api/assets/{id}/poster", a.content("poster"), auth.AssetsRead},
		{http.MethodGet, "/api/assets/{id}/insights", a.insights, auth.AssetsRead},
		{http.MethodGet, "/api/assets/{id}/export", a.export, auth.AssetsRead},
		{http.MethodGet, "/api/assets/{id}/jobs", a.assetJobs, auth.AssetsRead},
		{http.MethodGet, "/api/jobs", a.allJobs, auth.AssetsRead},
		{http.MethodGet, "/api/events", a.events, auth.AssetsRead},
		{http.MethodGet, "/api/search", a.search, auth.AssetsRead},
		{http.MethodGet, "/api/blobs/{ref}", a.blob, auth.AssetsRead},
		{http.MethodGet, "/api/audit", a.audit, auth.AuditRead},
		{http.MethodGet, "/api/status", a.status, auth.Member},
		{http.MethodGet, "/api/openapi.json", a.openapi, auth.Public},
		{http.MethodPost, "/api/session", a.signIn, auth.Public},
		{http.MethodGet, "/api/session", a.whoami, auth.Member},
		{http.MethodDelete, "/api/session", a.signOut, auth.Member},
		{http.MethodGet, "/api/users", a.listUsers, auth.UsersManage},
		{http.MethodPost, "/api/users", a.createUser, auth.UsersManage},
		{http.MethodPatch, "/api/users/{name}", a.patchUser, auth.UsersManage},
		{http.MethodGet, "/api/tokens", a.listTokens, auth.Member},
		{http.MethodPost, "/api/tokens", a.createToken, auth.Member},
		{http.MethodDelete, "/api/tokens/{id}", a.revokeToken, auth.Member},
		{http.MethodGet, "/api/tenants", a.listTenants, auth.TenantsManage},
		{http.MethodPost, "/api/tenants", a.createTenant, auth.TenantsManage},
		{http.MethodGet, "/healthz", a.healthz, auth.Public},
	}
}

// UploadsPerm is what the resumable-upload endpoint (outside the route
// table, served by tusd) requires.
const UploadsPerm = auth.AssetsWrite

// RouteInfo describes one route for documentation and tests.
type RouteInfo struct {
	Method, Pattern string
	Perm            auth.Permission
}

// Routes lists every API route with the permission it requires, the tus
// endpoint (every method under /api/uploads/) last.
func Routes() []RouteInfo {
	var out []RouteInfo
	for _, rt := range (&api{}).routes() {
		out = append(out, RouteInfo{rt.Method, rt.Pattern, rt.Perm})
	}
	return append(out, RouteInfo{"POST, HEAD, PATCH, DELETE", UploadsPath + "...", UploadsPerm})
}

//go:embed openapi.json
var openapiDoc []byte

func (a *api) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(openapiDoc)
}

func (a *api) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": a.opts.Version})
}

func (a *api) status(w http.ResponseWriter, r *http.Request) {
	st, err := a.svc.Status(r.Context())
	if err != nil {
		a.writeError(w, r, "status", err)
		return
	}
	if st == nil {
		st = &glasshouse.Status{}
	}
	if st.Version == "" {
		st.Version = a.opts.Version
	}
	if st.Analyzers == nil {
		st.Analyzers = []glasshouse.AnalyzerStatus{}
	}
	writeJSON(w, http.StatusOK, st)
}

const (
	defaultListLimit = 50
	maxListLimit     = 1000
	defaultAudit     = 100
	maxAudit         = 10000
)

func (a *api) listAssets(w http.ResponseWriter, r *http.Request) {
	actor := actorFrom(r)
	q := r.URL.Query()
	f := glasshouse.AssetFilter{
		Tenant:     actor.Tenant,
		Collection: q.Get("collection"),
		Cursor:     q.Get("cursor"),
	}
	switch sort := q.Get("sort"); sort {
	case "", "newest", "oldest", "name", "size":
		f.Sort = sort
	default:
		a.writeError(w, r, "list assets", glasshouse.Errorf("list assets", glasshouse.ErrInvalid,
			"sort must be newest, oldest, name or size, not %q", sort))
		return
	}
	switch k := glasshouse.MediaKind(q.Get("kind")); k {
	case "", glasshouse.KindImage, glasshouse.KindAudio, glasshouse.KindVideo:
		f.Kind = k
	default:
		a.writeError(w, r, "list assets", glasshouse.Errorf("list assets", glasshouse.ErrInvalid,
			"kind must be image, audio or video, not %q", string(k)))
		return
	}
	limit, err := intParam(q.Get("limit"), defaultListLimit, 1, maxListLimit)
	if err != nil {
		a.writeError(w, r, "list assets", glasshouse.E("list assets", glasshouse.ErrInvalid, nil, "limit: "+err.Error()))
		return
	}
	f.Limit = limit
	page, err := a.svc.ListAssets(r.Context(), actor, f)
	if err != nil {
		a.writeError(w, r, "list assets", err)
		return
	}
	if page == nil {
		page = &glasshouse.AssetPage{}
	}
	if page.Assets == nil {
		page.Assets = []*glasshouse.Asset{}
	}
	writeJSON(w, http.StatusOK, page)
}

func (a *api) getAsset(w http.ResponseWriter, r *http.Request) {
	id, ok := a.assetID(w, r)
	if !ok {
		return
	}
	as, err := a.svc.GetAsset(r.Context(), actorFrom(r), id)
	if err != nil {
		a.writeError(w, r, "get asset", err)
		return
	}
	writeJSON(w, http.StatusOK, as)
}

func (a *api) deleteAsset(w http.ResponseWriter, r *http.Request) {
	id, ok := a.assetID(w, r)
	if !ok {
		return
	}
	if err := a.svc.DeleteAsset(r.Context(), actorFrom(r), id); err != nil {
		a.writeError(w, r, "delete asset", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) insights(w http.ResponseWriter, r *http.Request) {
	id, ok := a.assetID(w, r)
	if !ok {
		return
	}
	in, err := a.svc.Insights(r.Context(), actorFrom(r), id)
	if err != nil {
		a.writeError(w, r, "insights", err)
		return
	}
	if in == nil {
		in = &glasshouse.Insights{}
	}
	writeJSON(w, http.StatusOK, in)
}

func (a *api) assetJobs(w http.ResponseWriter, r *http.Request) {
	id, ok := a.assetID(w, r)
	if !ok {
		return
	}
	a.jobs(w, r, id)
}

func (a *api) allJobs(w http.ResponseWriter, r *http.Request) { a.jobs(w, r, "") }

func (a *api) jobs(w http.ResponseWriter, r *http.Request, id glasshouse.AssetID) {
	jobs, err := a.svc.Jobs(r.Context(), actorFrom(r), id)
	if err != nil {
		a.writeError(w, r, "jobs", err)
		return
	}
	if jobs == nil {
		jobs = []glasshouse.Job{}
	}
	writeJSON(w, http.StatusOK, jobs)
}

func (a *api) audit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	after, err := int64Param(q.Get("after"))
	if err != nil {
		a.writeError(w, r, "audit", glasshouse.E("audit", glasshouse.ErrInvalid, nil, "after: "+err.Error()))
		return
	}
	limit, err := intParam(q.Get("limit"), defaultAudit, 1, maxAudit)
	if err != nil {
		a.writeError(w, r, "audit", glasshouse.E("audit", glasshouse.ErrInvalid, nil, "limit: "+err.Error()))
		return
	}
	evs, err := a.svc.AuditEvents(r.Context(), actorFrom(r), after, limit)
	if err != nil {
		a.writeError(w, r, "audit", err)
		return
	}
	if evs == nil {
		evs = []glasshouse.AuditEvent{}
	}
	writeJSON(w, http.StatusOK, evs)
}

// assetID reads and checks the {id} path parameter, answering 400 if it is
// not a UUID.
func (a *api) assetID(w http.ResponseWriter, r *http.Request) (glasshouse.AssetID, bool) {
	raw := r.PathValue("id")
	id, err := parseAssetID(raw)
	if err != nil {
		a.writeError(w, r, "asset id", err)
		return "", false
	}
	return id, true
}

// parseAssetID accepts a UUID in its canonical 8-4-4-4-12 hex form and
// returns it in lower case.
func parseAssetID(s string) (glasshouse.AssetID, error) {
	bad := glasshouse.Errorf("parse asset id", glasshouse.ErrInvalid, "malformed asset id %q", truncate(s, 80))
	if len(s) != 36 {
		return "", bad
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", bad
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return "", bad
			}
		}
	}
	return glasshouse.AssetID(strings.ToLower(s)), nil
}

// intParam parses an optional decimal query parameter within [min, max].
func intParam(s string, def, min, max int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errNotInteger(s)
	}
	if n < min || n > max {
		return 0, errOutOfRange{n, min, max}
	}
	return n, nil
}

// int64Param parses an optional non-negative decimal query parameter.
func int64Param(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errNotInteger(s)
	}
	if n < 0 {
		return 0, errOutOfRange{int(n), 0, -1}
	}
	return n, nil
}

type errNotInteger string

func (e errNotInteger) Error() string {
	return strconv.Quote(truncate(string(e), 40)) + " is not an integer"
}

type errOutOfRange struct{ n, min, max int }

func (e errOutOfRange) Error() string {
	if e.max < 0 {
		return strconv.Itoa(e.n) + " must be at least " + strconv.Itoa(e.min)
	}
	return strconv.Itoa(e.n) + " must be between " + strconv.Itoa(e.min) + " and " + strconv.Itoa(e.max)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func (a *api) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	text := q.Get("q")
	if strings.TrimSpace(text) == "" {
		a.writeError(w, r, "search", glasshouse.Errorf("search", glasshouse.ErrInvalid, "missing query parameter q"))
		return
	}
	sq := search.Query{Text: text, Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > search.MaxLimit {
			a.writeError(w, r, "search", glasshouse.Errorf("search", glasshouse.ErrInvalid, "limit must be 1..%d", search.MaxLimit))
			return
		}
		sq.Limit = n
	}
	if v := q.Get("hits"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > search.MaxHitsPerAsset {
			a.writeError(w, r, "search", glasshouse.Errorf("search", glasshouse.ErrInvalid, "hits must be 1..%d", search.MaxHitsPerAsset))
			return
		}
		sq.HitsPerAsset = n
	}
	if c := q["collection"]; len(c) > 0 {
		sq.Collections = c
	}
	hits, err := a.svc.Search(r.Context(), actorFrom(r), sq)
	if err != nil {
		a.writeError(w, r, "search", err)
		return
	}
	if hits.Assets == nil {
		hits.Assets = []search.AssetHits{}
	}
	writeJSON(w, http.StatusOK, hits)
}

func (a *api) patchAsset(w http.ResponseWriter, r *http.Request) {
	id, ok := a.assetID(w, r)
	if !ok {
		return
	}
	var body struct {
		Note       *string `json:"note"`
		Collection *string `json:"collection"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		a.writeError(w, r, "update asset", glasshouse.Errorf("update asset", glasshouse.ErrInvalid, "body must be JSON {\"note\": ..., \"collection\": ...}: %v", err))
		return
	}
	if body.Note == nil && body.Collection == nil {
		a.writeError(w, r, "update asset", glasshouse.Errorf("update asset", glasshouse.ErrInvalid, "nothing to change: give note and/or collection"))
		return
	}
	as, err := a.svc.PatchAsset(r.Context(), actorFrom(r), id, body.Note, body.Collection)
	if err != nil {
		a.writeError(w, r, "update asset", err)
		return
	}
	writeJSON(w, http.StatusOK, as)
}

// RouteTableMarkdown is the route → permission → roles table of the README
// (a test keeps the README in step with the route table).
func RouteTableMarkdown() string {
	var b strings.Builder
	b.WriteString("| method | path | permission | roles |\n|---|---|---|---|\n")
	for _, rt := range Routes() {
		roles := "anybody, signed in or not"
		if rt.Perm != auth.Public {
			var rs []string
			for _, r := range auth.RolesWith(rt.Perm) {
				rs = append(rs, string(r))
			}
			roles = strings.Join(rs, ", ")
		}
		b.WriteString("| " + rt.Method + " | `" + rt.Pattern + "` | " + string(rt.Perm) + " | " + roles + " |\n")
	}
	return b.String()
}
