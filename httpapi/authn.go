package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/auth"
)

// Accounts is what the API needs from the auth service (auth.Service).
type Accounts interface {
	SignIn(ctx context.Context, name, password, remote string) (string, auth.Principal, error)
	SignOut(ctx context.Context, secret, remote string) error
	Session(ctx context.Context, secret string) (auth.Principal, error)
	Token(ctx context.Context, secret string) (auth.Principal, error)
	CreateTenant(ctx context.Context, by auth.Principal, id glasshouse.TenantID, name, remote string) (auth.Tenant, error)
	ListTenants(ctx context.Context, by auth.Principal) ([]auth.Tenant, error)
	CreateUser(ctx context.Context, by auth.Principal, tenant glasshouse.TenantID, name string, role auth.Role, password, remote string) (auth.User, error)
	ListUsers(ctx context.Context, by auth.Principal, tenant glasshouse.TenantID) ([]auth.User, error)
	UpdateUser(ctx context.Context, by auth.Principal, name string, ch auth.UserChange, remote string) (auth.User, error)
	CreateToken(ctx context.Context, by auth.Principal, user, name string, scope auth.Scope, ttl time.Duration, remote string) (auth.Token, string, error)
	ListTokens(ctx context.Context, by auth.Principal, all bool) ([]auth.Token, error)
	RevokeToken(ctx context.Context, by auth.Principal, id, remote string) error
	Config() auth.Config
}

// CSRFHeader carries the CSRF token on state-changing requests made with
// the session cookie (the token comes with the session: GET /api/session).
const CSRFHeader = "X-CSRF-Token"

type principalKey struct{}

// caller is who makes a request and how they proved it.
type caller struct {
	auth.Principal
	secret string // session cookie value, when signed in by cookie
}

func callerFrom(r *http.Request) caller {
	c, _ := r.Context().Value(principalKey{}).(caller)
	return c
}

// actorFrom says who makes the request, for the service and the audit log.
func actorFrom(r *http.Request) glasshouse.Actor {
	return callerFrom(r).Actor(r.RemoteAddr)
}

// cookieName is __Host- prefixed when cookies are Secure, so that no
// sub-domain or plain-HTTP page can set or shadow it.
func (a *api) cookieName() string {
	if a.opts.SecureCookies {
		return "__Host-glasshouse_session"
	}
	return "glasshouse_session"
}

// csrfToken is derived from the session secret: only a page that can read
// our JSON (same origin) learns it, and it dies with the session.
func csrfToken(secret string) string {
	sum := sha256.Sum256([]byte("glasshouse csrf\x00" + secret))
	return hex.EncodeToString(sum[:16])
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// authenticate finds the caller: an API token (Authorization: Bearer), or
// the session cookie, or nobody. A bad token is an error; a stale cookie
// just means nobody (so public routes still work).
func (a *api) authenticate(r *http.Request) (caller, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return caller{}, glasshouse.E("authenticate", auth.ErrUnauthenticated, nil, "Authorization must be \"Bearer <token>\"")
		}
		if a.accounts == nil {
			return caller{}, glasshouse.E("authenticate", auth.ErrUnauthenticated, nil, "sign-in is not configured")
		}
		p, err := a.accounts.Token(r.Context(), strings.TrimSpace(tok))
		return caller{Principal: p}, err
	}
	ck, err := r.Cookie(a.cookieName())
	if err != nil || ck.Value == "" || a.accounts == nil {
		return caller{}, nil
	}
	p, err := a.accounts.Session(r.Context(), ck.Value)
	if err != nil {
		if errors.Is(err, auth.ErrUnauthenticated) {
			return caller{}, nil
		}
		return caller{}, err
	}
	return caller{Principal: p, secret: ck.Value}, nil
}

// tenantContent are the permissions that reach a tenant's content or
// records; a caller without a tenant (an operator) never has them.
func tenantContent(p auth.Permission) bool {
	switch p {
	case auth.Public, auth.Member, auth.UsageAll, auth.TenantsManage:
		return false
	}
	return true
}

// guard authenticates the request and checks perm, answering 401, 403 or
// 429 itself; it returns the request carrying the caller, or nil.
func (a *api) guard(w http.ResponseWriter, r *http.Request, perm auth.Permission) *http.Request {
	c, err := a.authenticate(r)
	if err != nil {
		a.writeError(w, r, "authenticate", err)
		return nil
	}
	noteUser(w, c.User)
	// CSRF: a state-changing request that relies on the cookie must come
	// from our own origin (Sec-Fetch-Site / Origin, net/http's
	// CrossOriginProtection) and carry the session's token. Bearer tokens
	// are not sent by browsers on their own and need neither.
	// Signing in from another site's form (login CSRF) is refused too.
	if c.secret == "" && perm == auth.Public && unsafeMethod(r.Method) {
		if err := a.csrf.Check(r); err != nil {
			writeErrorCode(w, http.StatusForbidden, "csrf", "cross-origin request refused: "+err.Error())
			return nil
		}
	}
	if c.secret != "" && unsafeMethod(r.Method) {
		if err := a.csrf.Check(r); err != nil {
			writeErrorCode(w, http.StatusForbidden, "csrf", "cross-origin request refused: "+err.Error())
			return nil
		}
		if got := r.Header.Get(CSRFHeader); subtle.ConstantTimeCompare([]byte(got), []byte(csrfToken(c.secret))) != 1 {
			writeErrorCode(w, http.StatusForbidden, "csrf", "missing or wrong "+CSRFHeader+" header (get it from GET /api/session)")
			return nil
		}
	}
	if perm != auth.Public {
		if c.User == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="glasshouse"`)
			writeErrorCode(w, http.StatusUnauthorized, "unauthenticated", "sign in or send an API token (Authorization: Bearer ...)")
			return nil
		}
		if !c.Can(perm) || (tenantContent(perm) && c.Tenant == "" && !c.Local) {
			msg := "your role (" + string(c.Role) + ") does not allow " + string(perm)
			if c.TokenID != "" && c.Role.Can(perm) {
				msg = "this token's scope (" + string(c.Scope) + ") does not allow " + string(perm)
			}
			writeErrorCode(w, http.StatusForbidden, "permission_denied", msg)
			return nil
		}
	}
	return r.WithContext(context.WithValue(r.Context(), principalKey{}, c))
}

// withPerm wraps a route's handler with guard.
func (a *api) withPerm(perm auth.Permission, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r = a.guard(w, r, perm); r != nil {
			h(w, r)
		}
	})
}

// writeAuthError maps rate limits to 429 with Retry-After and failed
// credentials to 401; everything else as usual.
func (a *api) writeAuthError(w http.ResponseWriter, r *http.Request, op string, err error) {
	var rl *auth.RateLimitError
	if errors.As(err, &rl) {
		w.Header().Set("Retry-After", strconv.Itoa(int(rl.RetryAfter.Seconds()+0.999)))
		writeErrorCode(w, http.StatusTooManyRequests, "rate_limited", rl.Error())
		return
	}
	a.writeError(w, r, op, err)
}

func decodeBody(w http.ResponseWriter, r *http.Request, op string, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "body must be a JSON object: %v", err)
	}
	return nil
}

// sessionInfo is the caller as the page sees it.
type sessionInfo struct {
	User    string              `json:"user"`
	Tenant  glasshouse.TenantID `json:"tenant"`
	Role    auth.Role           `json:"role"`
	Perms   []auth.Permission   `json:"permissions"`
	Scope   auth.Scope          `json:"scope,omitempty"`
	TokenID string              `json:"token_id,omitempty"`
	CSRF    string              `json:"csrf,omitempty"`
}

func infoOf(p auth.Principal, secret string) sessionInfo {
	var perms []auth.Permission
	for _, pm := range auth.All() {
		if pm != auth.Public && p.Can(pm) {
			perms = append(perms, pm)
		}
	}
	in := sessionInfo{User: p.User, Tenant: p.Tenant, Role: p.Role, Perms: perms, Scope: p.Scope, TokenID: p.TokenID}
	if secret != "" {
		in.CSRF = csrfToken(secret)
	}
	return in
}

func (a *api) signIn(w http.ResponseWriter, r *http.Request) {
	var body struct {
		User     string `json:"user"`
		Password string `json:"password"`
	}
	if err := decodeBody(w, r, "sign in", &body); err != nil {
		a.writeError(w, r, "sign in", err)
		return
	}
	if body.User == "" || body.Password == "" {
		a.writeError(w, r, "sign in", glasshouse.Errorf("sign in", glasshouse.ErrInvalid, "give user and password"))
		return
	}
	if a.accounts == nil {
		a.writeError(w, r, "sign in", glasshouse.Errorf("sign in", glasshouse.ErrUnavailable, "sign-in is not configured"))
		return
	}
	secret, p, err := a.accounts.SignIn(r.Context(), body.User, body.Password, r.RemoteAddr)
	if err != nil {
		a.writeAuthError(w, r, "sign in", err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: a.cookieName(), Value: secret, Path: "/", HttpOnly: true, Secure: a.opts.SecureCookies,
		SameSite: http.SameSiteStrictMode, MaxAge: int(a.accounts.Config().MaxSessionAge.Seconds()),
	})
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, infoOf(p, secret))
}

func (a *api) whoami(w http.ResponseWriter, r *http.Request) {
	c := callerFrom(r)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, infoOf(c.Principal, c.secret))
}

func (a *api) signOut(w http.ResponseWriter, r *http.Request) {
	c := callerFrom(r)
	if c.secret == "" {
		a.writeError(w, r, "sign out", glasshouse.Errorf("sign out", glasshouse.ErrInvalid, "signed in with a token: revoke it instead (DELETE /api/tokens/{id})"))
		return
	}
	if err := a.accounts.SignOut(r.Context(), c.secret, r.RemoteAddr); err != nil && !errors.Is(err, glasshouse.ErrNotExist) {
		a.writeError(w, r, "sign out", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: a.cookieName(), Value: "", Path: "/", HttpOnly: true, Secure: a.opts.SecureCookies,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) listUsers(w http.ResponseWriter, r *http.Request) {
	c := callerFrom(r)
	us, err := a.accounts.ListUsers(r.Context(), c.Principal, c.Tenant)
	if err != nil {
		a.writeError(w, r, "list users", err)
		return
	}
	writeJSON(w, http.StatusOK, us)
}

func (a *api) createUser(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name     string    `json:"name"`
		Role     auth.Role `json:"role"`
		Password string    `json:"password"`
	}
	if err := decodeBody(w, r, "create user", &body); err != nil {
		a.writeError(w, r, "create user", err)
		return
	}
	c := callerFrom(r)
	u, err := a.accounts.CreateUser(r.Context(), c.Principal, c.Tenant, body.Name, body.Role, body.Password, r.RemoteAddr)
	if err != nil {
		a.writeError(w, r, "create user", err)
		return
	}
	writeJSON(w, http.StatusCreated, u)
}

func (a *api) patchUser(w http.ResponseWriter, r *http.Request) {
	var ch auth.UserChange
	if err := decodeBody(w, r, "update user", &ch); err != nil {
		a.writeError(w, r, "update user", err)
		return
	}
	if ch.Role == nil && ch.Disabled == nil && ch.Password == nil {
		a.writeError(w, r, "update user", glasshouse.Errorf("update user", glasshouse.ErrInvalid, "nothing to change: give role, disabled and/or password"))
		return
	}
	u, err := a.accounts.UpdateUser(r.Context(), callerFrom(r).Principal, r.PathValue("name"), ch, r.RemoteAddr)
	if err != nil {
		a.writeError(w, r, "update user", err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (a *api) listTokens(w http.ResponseWriter, r *http.Request) {
	all := r.URL.Query().Get("all") == "true"
	ts, err := a.accounts.ListTokens(r.Context(), callerFrom(r).Principal, all)
	if err != nil {
		a.writeError(w, r, "list tokens", err)
		return
	}
	writeJSON(w, http.StatusOK, ts)
}

// createdToken is a new token with its secret, shown once.
type createdToken struct {
	auth.Token
	Secret string `json:"secret"`
}

func (a *api) createToken(w http.ResponseWriter, r *http.Request) {
	var body struct {
		User  string     `json:"user"`
		Name  string     `json:"name"`
		Scope auth.Scope `json:"scope"`
		TTL   string     `json:"ttl"` // Go duration, e.g. "720h"; empty: default
	}
	if err := decodeBody(w, r, "create token", &body); err != nil {
		a.writeError(w, r, "create token", err)
		return
	}
	var ttl time.Duration
	if body.TTL != "" {
		d, err := time.ParseDuration(body.TTL)
		if err != nil {
			a.writeError(w, r, "create token", glasshouse.Errorf("create token", glasshouse.ErrInvalid, "ttl %q is not a duration like 720h", truncate(body.TTL, 40)))
			return
		}
		ttl = d
	}
	t, secret, err := a.accounts.CreateToken(r.Context(), callerFrom(r).Principal, body.User, body.Name, body.Scope, ttl, r.RemoteAddr)
	if err != nil {
		a.writeError(w, r, "create token", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, createdToken{Token: t, Secret: secret})
}

func (a *api) revokeToken(w http.ResponseWriter, r *http.Request) {
	if err := a.accounts.RevokeToken(r.Context(), callerFrom(r).Principal, r.PathValue("id"), r.RemoteAddr); err != nil {
		a.writeError(w, r, "revoke token", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) listTenants(w http.ResponseWriter, r *http.Request) {
	ts, err := a.accounts.ListTenants(r.Context(), callerFrom(r).Principal)
	if err != nil {
		a.writeError(w, r, "list tenants", err)
		return
	}
	writeJSON(w, http.StatusOK, ts)
}

func (a *api) createTenant(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ID   glasshouse.TenantID `json:"id"`
		Name string              `json:"name"`
	}
	if err := decodeBody(w, r, "create tenant", &body); err != nil {
		a.writeError(w, r, "create tenant", err)
		return
	}
	t, err := a.accounts.CreateTenant(r.Context(), callerFrom(r).Principal, body.ID, body.Name, r.RemoteAddr)
	if err != nil {
		a.writeError(w, r, "create tenant", err)
		return
	}
	writeJSON(w, http.StatusCreated, t)
}
