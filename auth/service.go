package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/glasshouse/glasshouse"
)

// ErrUnauthenticated is the kind of error for a caller who is not signed
// in, or whose credentials are wrong, expired or revoked (HTTP 401).
var ErrUnauthenticated = errors.New("not signed in")

// RateLimitError says sign-in attempts came too fast (HTTP 429).
type RateLimitError struct {
	Who        string // "account" or "address"
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("too many sign-in attempts for this %s; try again in %s", e.Who, e.RetryAfter.Round(time.Second))
}

// Principal is an authenticated caller.
type Principal struct {
	Tenant glasshouse.TenantID `json:"tenant"`
	User   string              `json:"user"`
	Role   Role                `json:"role"`
	// Scope limits a token; empty for sessions and local actors.
	Scope Scope `json:"scope,omitempty"`
	// TokenID is set when the caller used an API token.
	TokenID string `json:"token_id,omitempty"`
	// Local marks the owner of the data folder on the command line
	// (cli:$USER): allowed everything, in the tenant it names.
	Local bool `json:"-"`
}

// Can reports whether the caller may use a route that requires p.
func (p Principal) Can(perm Permission) bool {
	if perm == Public {
		return true
	}
	if p.Local {
		return true
	}
	if p.User == "" {
		return false
	}
	return p.Role.Can(perm) && p.Scope.Allows(perm)
}

// Actor is the caller as the audit log names it.
func (p Principal) Actor(remote string) glasshouse.Actor {
	return glasshouse.Actor{Tenant: p.Tenant, User: p.User, Remote: remote}
}

// LocalPrincipal is the command-line user acting on a data folder.
func LocalPrincipal(tenant glasshouse.TenantID, osUser string) Principal {
	if osUser == "" {
		osUser = "unknown"
	}
	return Principal{Tenant: tenant, User: "cli:" + osUser, Role: Admin, Local: true}
}

// Config tunes a Service; zero values get the defaults.
type Config struct {
	// IdleTimeout ends a session not used for this long (default 2h).
	IdleTimeout time.Duration
	// MaxSessionAge ends a session this long after sign-in (default 12h).
	MaxSessionAge time.Duration
	// MaxTokenTTL caps a token's lifetime (default 365 days); DefaultTokenTTL
	// is used when none is asked for (default 90 days).
	MaxTokenTTL, DefaultTokenTTL time.Duration
	// Sign-in rate limits: per account and per remote address, a burst
	// and a steady rate (defaults: 5 then one per 12s per account; 20 then
	// one per 3s per address).
	AccountBurst int
	AccountEvery time.Duration
	RemoteBurst  int
	RemoteEvery  time.Duration
	Now          func() time.Time
	Logger       *slog.Logger
}

// Service signs callers in and out, checks sessions and tokens and manages
// tenants, users and tokens, writing an audit event for every change.
type Service struct {
	st  Store
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	accounts map[string]*rate.Limiter
	remotes  map[string]*rate.Limiter
}

// NewService returns a Service over st.
func NewService(st Store, cfg Config) *Service {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 2 * time.Hour
	}
	if cfg.MaxSessionAge <= 0 {
		cfg.MaxSessionAge = 12 * time.Hour
	}
	if cfg.MaxTokenTTL <= 0 {
		cfg.MaxTokenTTL = 365 * 24 * time.Hour
	}
	if cfg.DefaultTokenTTL <= 0 {
		cfg.DefaultTokenTTL = min(90*24*time.Hour, cfg.MaxTokenTTL)
	}
	if cfg.AccountBurst <= 0 {
		cfg.AccountBurst = 5
	}
	if cfg.AccountEvery <= 0 {
		cfg.AccountEvery = 12 * time.Second
	}
	if cfg.RemoteBurst <= 0 {
		cfg.RemoteBurst = 20
	}
	if cfg.RemoteEvery <= 0 {
		cfg.RemoteEvery = 3 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{st: st, cfg: cfg, log: cfg.Logger, accounts: map[string]*rate.Limiter{}, remotes: map[string]*rate.Limiter{}}
}

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }

func unauth(op, msg string) error { return glasshouse.E(op, ErrUnauthenticated, nil, msg) }

// limiterFor returns the limiter of key in m, creating it; m is bounded by
// dropping every limiter when it grows past 10000 keys (a flood of
// addresses then only resets the counts, it cannot exhaust memory).
func (s *Service) allow(m map[string]*rate.Limiter, key string, burst int, every time.Duration, now time.Time) (time.Duration, bool) {
	l, ok := m[key]
	if !ok {
		if len(m) >= 10000 {
			clear(m)
		}
		l = rate.NewLimiter(rate.Every(every), burst)
		m[key] = l
	}
	r := l.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

func (s *Service) rateLimit(name, remote string) error {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	host := remoteHost(remote)
	if d, ok := s.allow(s.remotes, host, s.cfg.RemoteBurst, s.cfg.RemoteEvery, now); !ok {
		return &RateLimitError{Who: "address", RetryAfter: d}
	}
	if d, ok := s.allow(s.accounts, strings.ToLower(name), s.cfg.AccountBurst, s.cfg.AccountEvery, now); !ok {
		return &RateLimitError{Who: "account", RetryAfter: d}
	}
	return nil
}

// remoteHost drops the port of a host:port address.
func remoteHost(remote string) string {
	if i := strings.LastIndexByte(remote, ':'); i > 0 && !strings.HasSuffix(remote, "]") {
		return strings.Trim(remote[:i], "[]")
	}
	return remote
}

// SignIn checks name and password and opens a session; it returns the
// secret for the cookie. Every attempt is audited, failures included; the
// error does not say whether the name or the password was wrong.
func (s *Service) SignIn(ctx context.Context, name, password, remote string) (secret string, p Principal, err error) {
	const op = "sign in"
	if err := s.rateLimit(name, remote); err != nil {
		s.log.Warn("sign-in rate limited", "user", truncate(name, 64), "remote", remote, "err", err)
		return "", Principal{}, err
	}
	fail := func(tenant glasshouse.TenantID, reason string) error {
		ev := glasshouse.NewEvent(glasshouse.Actor{Tenant: tenant, User: truncate(name, 64), Remote: remote}, "signin.failure", truncate(name, 64), map[string]any{"reason": reason})
		if _, err := s.st.Append(ctx, ev); err != nil {
			return fmt.Errorf("%s: record failure: %w", op, err)
		}
		return unauth(op, "wrong user name or password")
	}
	u, err := s.st.GetUser(ctx, name)
	if errors.Is(err, glasshouse.ErrNotExist) {
		_, _ = VerifyPassword(dummyHash(), password) // same cost as a real check
		return "", Principal{}, fail("", "unknown user")
	}
	if err != nil {
		return "", Principal{}, fmt.Errorf("%s: %w", op, err)
	}
	ok, err := VerifyPassword(u.PasswordHash, password)
	if err != nil {
		return "", Principal{}, fmt.Errorf("%s: user %s: %w", op, u.Name, err)
	}
	if !ok {
		return "", Principal{}, fail(u.Tenant, "wrong password")
	}
	if u.Disabled {
		return "", Principal{}, fail(u.Tenant, "disabled")
	}
	secret, err = RandomSecret(32)
	if err != nil {
		return "", Principal{}, err
	}
	now := s.cfg.Now().UTC()
	sess := Session{Hash: HashSecret(secret), User: u.Name, Created: now, LastSeen: now, Remote: remote}
	p = principalOf(u)
	ev := glasshouse.NewEvent(p.Actor(remote), "signin", u.Name, map[string]any{"role": u.Role})
	if err := s.st.CreateSession(ctx, sess, ev); err != nil {
		return "", Principal{}, fmt.Errorf("%s: %w", op, err)
	}
	return secret, p, nil
}

func principalOf(u User) Principal { return Principal{Tenant: u.Tenant, User: u.Name, Role: u.Role} }

// SignOut ends the session with this secret and records it.
func (s *Service) SignOut(ctx context.Context, secret, remote string) error {
	sess, u, err := s.st.GetSession(ctx, HashSecret(secret))
	if err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	ev := glasshouse.NewEvent(principalOf(u).Actor(remote), "signout", sess.User, nil)
	return s.st.DeleteSession(ctx, sess.Hash, ev)
}

// touchEvery limits how often the last-seen time of a session or token
// is written.
const touchEvery = time.Minute

// Session returns the caller of a session cookie, or ErrUnauthenticated if
// it is unknown, idle too long, too old, or its user is disabled.
func (s *Service) Session(ctx context.Context, secret string) (Principal, error) {
	const op = "session"
	if secret == "" || len(secret) > 128 {
		return Principal{}, unauth(op, "no valid session")
	}
	h := HashSecret(secret)
	sess, u, err := s.st.GetSession(ctx, h)
	if errors.Is(err, glasshouse.ErrNotExist) {
		return Principal{}, unauth(op, "session expired or signed out; sign in again")
	}
	if err != nil {
		return Principal{}, fmt.Errorf("%s: %w", op, err)
	}
	if !equalHash(sess.Hash, h) {
		return Principal{}, unauth(op, "no valid session")
	}
	now := s.cfg.Now()
	if u.Disabled || now.Sub(sess.LastSeen) > s.cfg.IdleTimeout || now.Sub(sess.Created) > s.cfg.MaxSessionAge {
		_ = s.st.DeleteSession(ctx, h, glasshouse.AuditEvent{})
		return Principal{}, unauth(op, "session expired; sign in again")
	}
	if now.Sub(sess.LastSeen) > touchEvery {
		if err := s.st.TouchSession(ctx, h, now.UTC()); err != nil {
			s.log.Warn("touch session", "err", err)
		}
	}
	return principalOf(u), nil
}

// TokenPrefix starts every API token, so leaked tokens are easy to find.
const TokenPrefix = "ghtok_"

// Token returns the caller of an API token (the Bearer value), or
// ErrUnauthenticated if it is unknown, revoked, expired, or its user is
// disabled.
func (s *Service) Token(ctx context.Context, secret string) (Principal, error) {
	const op = "token"
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) > 128 {
		return Principal{}, unauth(op, "malformed API token")
	}
	h := HashSecret(secret)
	t, u, err := s.st.GetToken(ctx, h)
	if errors.Is(err, glasshouse.ErrNotExist) {
		return Principal{}, unauth(op, "unknown API token")
	}
	if err != nil {
		return Principal{}, fmt.Errorf("%s: %w", op, err)
	}
	now := s.cfg.Now()
	switch {
	case !equalHash(t.Hash, h):
		return Principal{}, unauth(op, "unknown API token")
	case !t.Revoked.IsZero():
		return Principal{}, unauth(op, "API token "+t.ID+" was revoked")
	case !now.Before(t.Expires):
		return Principal{}, unauth(op, "API token "+t.ID+" expired at "+t.Expires.UTC().Format(time.RFC3339))
	case u.Disabled:
		return Principal{}, unauth(op, "the user of API token "+t.ID+" is disabled")
	}
	if now.Sub(t.LastUsed) > touchEvery {
		if err := s.st.TouchToken(ctx, t.ID, now.UTC()); err != nil {
			s.log.Warn("touch token", "err", err)
		}
	}
	p := principalOf(u)
	p.Scope, p.TokenID = t.Scope, t.ID
	return p, nil
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

func checkName(kind, s string) error {
	if !nameRE.MatchString(s) {
		return glasshouse.Errorf("check "+kind, glasshouse.ErrInvalid,
			"%s %q must be 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", kind, truncate(s, 80))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func denied(op, msg string) error { return glasshouse.E(op, glasshouse.ErrPermission, nil, msg) }

// mayManage checks that by may manage users of tenant and may give role:
// admins their own tenant's users, operators other operators (never a
// tenant's users: that would reach the tenant's content), local actors all.
func mayManage(op string, by Principal, tenant glasshouse.TenantID, role Role) error {
	switch {
	case by.Local:
		return nil
	case role == Operator && !by.Can(TenantsManage):
		return denied(op, "only an operator may create or change operators")
	case by.Can(TenantsManage) && tenant == "":
		return nil
	case by.Can(UsersManage) && by.Tenant == tenant && tenant != "":
		return nil
	}
	return denied(op, "you may not manage users of this tenant")
}

// CreateTenant adds a tenant (operators and local actors only).
func (s *Service) CreateTenant(ctx context.Context, by Principal, id glasshouse.TenantID, name, remote string) (Tenant, error) {
	const op = "create tenant"
	if !by.Local && !by.Can(TenantsManage) {
		return Tenant{}, denied(op, "only an operator may create tenants")
	}
	if err := checkName("tenant", string(id)); err != nil {
		return Tenant{}, err
	}
	if name == "" {
		name = string(id)
	}
	t := Tenant{ID: id, Name: truncate(name, 200), Created: s.cfg.Now().UTC()}
	ev := glasshouse.NewEvent(glasshouse.Actor{Tenant: id, User: by.User, Remote: remote}, "tenant.create", string(id), map[string]any{"name": t.Name})
	if err := s.st.CreateTenant(ctx, t, ev); err != nil {
		return Tenant{}, fmt.Errorf("%s %s: %w", op, id, err)
	}
	return t, nil
}

// ListTenants lists every tenant (operators and local actors only).
func (s *Service) ListTenants(ctx context.Context, by Principal) ([]Tenant, error) {
	if !by.Local && !by.Can(TenantsManage) {
		return nil, denied("list tenants", "only an operator may list tenants")
	}
	return s.st.ListTenants(ctx)
}

// CreateUser adds a user with a password. Admins add users to their own
// tenant; operators and local actors to any, and operators (tenant "").
func (s *Service) CreateUser(ctx context.Context, by Principal, tenant glasshouse.TenantID, name string, role Role, password, remote string) (User, error) {
	const op = "create user"
	if _, err := ParseRole(string(role)); err != nil {
		return User{}, glasshouse.E(op, glasshouse.ErrInvalid, nil, err.Error())
	}
	if role == Operator {
		tenant = ""
	} else if tenant == "" {
		return User{}, glasshouse.Errorf(op, glasshouse.ErrInvalid, "a %s needs a tenant", role)
	}
	if err := mayManage(op, by, tenant, role); err != nil {
		return User{}, err
	}
	if err := checkName("user name", name); err != nil {
		return User{}, err
	}
	if err := CheckPasswordPolicy(password); err != nil {
		return User{}, glasshouse.E(op, glasshouse.ErrInvalid, nil, err.Error())
	}
	hash, err := HashPassword(password)
	if err != nil {
		return User{}, err
	}
	u := User{Name: name, Tenant: tenant, Role: role, PasswordHash: hash, Created: s.cfg.Now().UTC()}
	ev := glasshouse.NewEvent(glasshouse.Actor{Tenant: tenant, User: by.User, Remote: remote}, "user.create", name, map[string]any{"role": role})
	if err := s.st.CreateUser(ctx, u, ev); err != nil {
		if errors.Is(err, glasshouse.ErrExist) {
			return User{}, glasshouse.Errorf(op, glasshouse.ErrExist, "user %q already exists", name)
		}
		if errors.Is(err, glasshouse.ErrNotExist) {
			return User{}, glasshouse.Errorf(op, glasshouse.ErrInvalid, "tenant %q does not exist", tenant)
		}
		return User{}, fmt.Errorf("%s %s: %w", op, name, err)
	}
	return u, nil
}

// userFor loads a user that by may manage; another tenant's user is
// reported as not found.
func (s *Service) userFor(ctx context.Context, op string, by Principal, name string) (User, error) {
	u, err := s.st.GetUser(ctx, name)
	if err != nil {
		if errors.Is(err, glasshouse.ErrNotExist) {
			return User{}, glasshouse.Errorf(op, glasshouse.ErrNotExist, "no user %q", truncate(name, 80))
		}
		return User{}, fmt.Errorf("%s: %w", op, err)
	}
	if !by.Local && u.Tenant != by.Tenant {
		return User{}, glasshouse.Errorf(op, glasshouse.ErrNotExist, "no user %q", truncate(name, 80))
	}
	if err := mayManage(op, by, u.Tenant, u.Role); err != nil {
		return User{}, err
	}
	return u, nil
}

// ListUsers lists the users of tenant ("" with an operator: operators).
func (s *Service) ListUsers(ctx context.Context, by Principal, tenant glasshouse.TenantID) ([]User, error) {
	if err := mayManage("list users", by, tenant, ""); err != nil {
		return nil, err
	}
	return s.st.ListUsers(ctx, tenant)
}

// UserChange is what UpdateUser changes (nil: unchanged).
type UserChange struct {
	Role     *Role   `json:"role,omitempty"`
	Disabled *bool   `json:"disabled,omitempty"`
	Password *string `json:"password,omitempty"`
}

// UpdateUser changes a user's role, disabled flag and/or password; each
// kind of change is its own audit event (user.role, user.disable,
// user.enable, user.password). Disabling or a new password ends the
// user's sessions.
func (s *Service) UpdateUser(ctx context.Context, by Principal, name string, ch UserChange, remote string) (User, error) {
	const op = "update user"
	u, err := s.userFor(ctx, op, by, name)
	if err != nil {
		return User{}, err
	}
	actor := glasshouse.Actor{Tenant: u.Tenant, User: by.User, Remote: remote}
	if ch.Role != nil {
		r, err := ParseRole(string(*ch.Role))
		if err != nil {
			return User{}, glasshouse.E(op, glasshouse.ErrInvalid, nil, err.Error())
		}
		if (r == Operator) != (u.Role == Operator) {
			return User{}, glasshouse.Errorf(op, glasshouse.ErrInvalid, "a tenant user cannot become an operator or the reverse; create a new user")
		}
		if err := mayManage(op, by, u.Tenant, r); err != nil {
			return User{}, err
		}
		if u.Name == by.User && !by.Local && r != u.Role {
			return User{}, glasshouse.Errorf(op, glasshouse.ErrConflict, "you cannot change your own role")
		}
		old := u.Role
		u.Role = r
		if err := s.st.UpdateUser(ctx, u, false, glasshouse.NewEvent(actor, "user.role", u.Name, map[string]any{"from": old, "to": r})); err != nil {
			return User{}, fmt.Errorf("%s: %w", op, err)
		}
	}
	if ch.Password != nil {
		if err := CheckPasswordPolicy(*ch.Password); err != nil {
			return User{}, glasshouse.E(op, glasshouse.ErrInvalid, nil, err.Error())
		}
		if u.PasswordHash, err = HashPassword(*ch.Password); err != nil {
			return User{}, err
		}
		if err := s.st.UpdateUser(ctx, u, true, glasshouse.NewEvent(actor, "user.password", u.Name, nil)); err != nil {
			return User{}, fmt.Errorf("%s: %w", op, err)
		}
	}
	if ch.Disabled != nil && *ch.Disabled != u.Disabled {
		if *ch.Disabled && u.Name == by.User && !by.Local {
			return User{}, glasshouse.Errorf(op, glasshouse.ErrConflict, "you cannot disable yourself")
		}
		u.Disabled = *ch.Disabled
		action := "user.enable"
		if u.Disabled {
			action = "user.disable"
		}
		if err := s.st.UpdateUser(ctx, u, u.Disabled, glasshouse.NewEvent(actor, action, u.Name, nil)); err != nil {
			return User{}, fmt.Errorf("%s: %w", op, err)
		}
	}
	return u, nil
}

// CreateToken makes an API token for user (by itself, or by an admin of
// its tenant) with a scope no wider than the user's role allows, valid for
// ttl (0: the default). The secret is returned once and never stored.
func (s *Service) CreateToken(ctx context.Context, by Principal, user, name string, scope Scope, ttl time.Duration, remote string) (Token, string, error) {
	const op = "create token"
	if user == "" {
		user = by.User
	}
	var u User
	var err error
	if user == by.User && !by.Local {
		if by.TokenID != "" && by.Scope != ScopeAdmin {
			return Token{}, "", denied(op, "a token needs the admin scope to create tokens")
		}
		u, err = s.st.GetUser(ctx, user)
		if err != nil {
			return Token{}, "", fmt.Errorf("%s: %w", op, err)
		}
	} else if u, err = s.userFor(ctx, op, by, user); err != nil {
		return Token{}, "", err
	}
	if u.Disabled {
		return Token{}, "", glasshouse.Errorf(op, glasshouse.ErrConflict, "user %s is disabled", u.Name)
	}
	if scope == "" {
		scope = MaxScope(u.Role)
	}
	if _, err := ParseScope(string(scope)); err != nil {
		return Token{}, "", glasshouse.E(op, glasshouse.ErrInvalid, nil, err.Error())
	}
	if !scope.Within(MaxScope(u.Role)) {
		return Token{}, "", glasshouse.Errorf(op, glasshouse.ErrInvalid, "scope %s is wider than a %s may have (at most %s)", scope, u.Role, MaxScope(u.Role))
	}
	if by.TokenID != "" && !scope.Within(by.Scope) {
		return Token{}, "", denied(op, "a token cannot create a token wider than itself")
	}
	if ttl == 0 {
		ttl = s.cfg.DefaultTokenTTL
	}
	if ttl < time.Minute || ttl > s.cfg.MaxTokenTTL {
		return Token{}, "", glasshouse.Errorf(op, glasshouse.ErrInvalid, "token lifetime must be between 1m and %s, not %s", s.cfg.MaxTokenTTL, ttl)
	}
	if name == "" {
		name = "token"
	}
	id, err := RandomSecret(9)
	if err != nil {
		return Token{}, "", err
	}
	id = strings.NewReplacer("-", "x", "_", "y").Replace(id)
	rnd, err := RandomSecret(32)
	if err != nil {
		return Token{}, "", err
	}
	secret := TokenPrefix + id + "_" + rnd
	now := s.cfg.Now().UTC()
	t := Token{ID: id, Tenant: u.Tenant, User: u.Name, Name: truncate(name, 100), Scope: scope, Hash: HashSecret(secret), Created: now, Expires: now.Add(ttl)}
	ev := glasshouse.NewEvent(glasshouse.Actor{Tenant: u.Tenant, User: by.User, Remote: remote}, "token.create", id,
		map[string]any{"user": u.Name, "scope": scope, "expires": t.Expires, "name": t.Name})
	if err := s.st.CreateToken(ctx, t, ev); err != nil {
		return Token{}, "", fmt.Errorf("%s: %w", op, err)
	}
	return t, secret, nil
}

// ListTokens lists by's own tokens, or with users.manage (or all=true for
// local actors and admins) every token of by's tenant.
func (s *Service) ListTokens(ctx context.Context, by Principal, all bool) ([]Token, error) {
	user := by.User
	if all {
		if !by.Local && !by.Can(UsersManage) {
			return nil, denied("list tokens", "only an admin may list the tenant's tokens")
		}
		user = ""
	}
	return s.st.ListTokens(ctx, by.Tenant, user)
}

// RevokeToken revokes a token of by's tenant: one's own, or any with
// users.manage.
func (s *Service) RevokeToken(ctx context.Context, by Principal, id, remote string) error {
	const op = "revoke token"
	toks, err := s.st.ListTokens(ctx, by.Tenant, "")
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	for _, t := range toks {
		if t.ID != id {
			continue
		}
		if t.User != by.User && !by.Local && !by.Can(UsersManage) {
			break
		}
		if !t.Revoked.IsZero() {
			return nil
		}
		ev := glasshouse.NewEvent(glasshouse.Actor{Tenant: t.Tenant, User: by.User, Remote: remote}, "token.revoke", id, map[string]any{"user": t.User})
		return s.st.RevokeToken(ctx, by.Tenant, id, s.cfg.Now().UTC(), ev)
	}
	return glasshouse.Errorf(op, glasshouse.ErrNotExist, "no token %q", truncate(id, 40))
}

// DefaultTenantID is the tenant made at bootstrap.
const DefaultTenantID = glasshouse.DefaultTenant

// Bootstrap makes the service usable on first start: if there are no
// users, it creates tenant "default" (if missing) and an admin "admin" with
// a random password, which it returns (empty when users already existed).
func (s *Service) Bootstrap(ctx context.Context, by Principal) (user, password string, err error) {
	n, err := s.st.CountUsers(ctx)
	if err != nil || n > 0 {
		return "", "", err
	}
	if _, err := s.st.GetTenant(ctx, DefaultTenantID); errors.Is(err, glasshouse.ErrNotExist) {
		if _, err := s.CreateTenant(ctx, by, DefaultTenantID, "Default", ""); err != nil {
			return "", "", err
		}
	} else if err != nil {
		return "", "", err
	}
	pw, err := RandomSecret(18)
	if err != nil {
		return "", "", err
	}
	if _, err := s.CreateUser(ctx, by, DefaultTenantID, "admin", Admin, pw, ""); err != nil {
		return "", "", err
	}
	return "admin", pw, nil
}
