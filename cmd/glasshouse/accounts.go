package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/app"
	"github.com/glasshouse/glasshouse/auth"
)

// accountsCmd opens the data folder and runs fn as the local actor.
func accountsCmd(ctx context.Context, e *env, name, usage string, args []string, setup func(fs *flag.FlagSet),
	fn func(a *app.App, by auth.Principal, fs *flag.FlagSet) error) error {
	fs := newFlagSet(e, name, usage)
	var b backendFlags
	b.register(fs)
	if setup != nil {
		setup(fs)
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	a, err := openApp(ctx, e, b)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a, localPrincipal(b.tenant), fs)
}

func localPrincipal(tenant string) auth.Principal {
	return auth.LocalPrincipal(glasshouse.TenantID(tenant), strings.TrimPrefix(cliUser(), "cli:"))
}

func subUsage(e *env, lines ...string) error {
	for _, l := range lines {
		fmt.Fprintln(e.stderr, l)
	}
	return exitError{code: 2}
}

// readPassword takes the first line of stdin with --password-stdin, or
// makes a random one that is printed once.
func readPassword(e *env, fromStdin bool) (pw string, generated bool, err error) {
	if fromStdin {
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", false, fmt.Errorf("read password from stdin: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), false, nil
	}
	pw, err = auth.RandomSecret(18)
	return pw, true, err
}

func cmdUser(ctx context.Context, e *env, args []string) error {
	usage := []string{
		"Usage: glasshouse user add [--tenant T] [--role viewer|editor|admin|auditor|operator] [--password-stdin] NAME",
		"       glasshouse user list [--tenant T] [--operators]",
		"       glasshouse user role [--tenant T] NAME ROLE",
		"       glasshouse user disable|enable [--tenant T] NAME",
		"       glasshouse user passwd [--tenant T] [--password-stdin] NAME",
		"Without --password-stdin a random password is made and printed once.",
	}
	if len(args) == 0 {
		return subUsage(e, usage...)
	}
	sub, rest := args[0], args[1:]
	var role, fromStdin, operators = new(string), new(bool), new(bool)
	setup := func(fs *flag.FlagSet) {
		switch sub {
		case "add":
			fs.StringVar(role, "role", "viewer", "viewer, editor, admin, auditor, or operator (above tenants)")
			fs.BoolVar(fromStdin, "password-stdin", false, "read the password from the first line of stdin")
		case "passwd":
			fs.BoolVar(fromStdin, "password-stdin", false, "read the password from the first line of stdin")
		case "list":
			fs.BoolVar(operators, "operators", false, "list operators instead of a tenant's users")
		}
	}
	return accountsCmd(ctx, e, "user "+sub, "[flags] ...", rest, setup, func(a *app.App, by auth.Principal, fs *flag.FlagSet) error {
		svc := a.Auth()
		switch sub {
		case "add", "passwd":
			if fs.NArg() != 1 {
				return subUsage(e, usage...)
			}
			pw, gen, err := readPassword(e, *fromStdin)
			if err != nil {
				return err
			}
			var u auth.User
			if sub == "add" {
				u, err = svc.CreateUser(ctx, by, by.Tenant, fs.Arg(0), auth.Role(*role), pw, "")
			} else {
				u, err = svc.UpdateUser(ctx, by, fs.Arg(0), auth.UserChange{Password: &pw}, "")
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s %s (%s, tenant %q)\n", map[string]string{"add": "added", "passwd": "new password for"}[sub], u.Name, u.Role, u.Tenant)
			if gen {
				fmt.Fprintf(e.stdout, "password: %s\n", pw)
			}
			return nil
		case "list":
			tenant := by.Tenant
			if *operators {
				tenant = ""
			}
			us, err := svc.ListUsers(ctx, by, tenant)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tTENANT\tDISABLED\tCREATED")
			for _, u := range us {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", u.Name, u.Role, u.Tenant, u.Disabled, u.Created.Format(time.RFC3339))
			}
			return tw.Flush()
		case "role":
			if fs.NArg() != 2 {
				return subUsage(e, usage...)
			}
			r := auth.Role(fs.Arg(1))
			u, err := svc.UpdateUser(ctx, by, fs.Arg(0), auth.UserChange{Role: &r}, "")
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s is now %s\n", u.Name, u.Role)
			return nil
		case "disable", "enable":
			if fs.NArg() != 1 {
				return subUsage(e, usage...)
			}
			d := sub == "disable"
			u, err := svc.UpdateUser(ctx, by, fs.Arg(0), auth.UserChange{Disabled: &d}, "")
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s %sd\n", u.Name, sub)
			return nil
		}
		return subUsage(e, usage...)
	})
}

func cmdTenant(ctx context.Context, e *env, args []string) error {
	usage := []string{
		"Usage: glasshouse tenant add [--name NAME] ID",
		"       glasshouse tenant list",
	}
	if len(args) == 0 {
		return subUsage(e, usage...)
	}
	sub := args[0]
	name := new(string)
	setup := func(fs *flag.FlagSet) {
		if sub == "add" {
			fs.StringVar(name, "name", "", "display name (default: the id)")
		}
	}
	return accountsCmd(ctx, e, "tenant "+sub, "[flags] ...", args[1:], setup, func(a *app.App, by auth.Principal, fs *flag.FlagSet) error {
		switch sub {
		case "add":
			if fs.NArg() != 1 {
				return subUsage(e, usage...)
			}
			t, err := a.Auth().CreateTenant(ctx, by, glasshouse.TenantID(fs.Arg(0)), *name, "")
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "added tenant %s\n", t.ID)
			return nil
		case "list":
			ts, err := a.Auth().ListTenants(ctx, by)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tCREATED")
			for _, t := range ts {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", t.ID, t.Name, t.Created.Format(time.RFC3339))
			}
			return tw.Flush()
		}
		return subUsage(e, usage...)
	})
}

func cmdToken(ctx context.Context, e *env, args []string) error {
	usage := []string{
		"Usage: glasshouse token create [--tenant T] [--scope read|write|admin] [--ttl 2160h] [--name N] USER",
		"       glasshouse token list [--tenant T] [--json]",
		"       glasshouse token revoke [--tenant T] ID",
		"The token is printed once; only its SHA-256 is stored.",
	}
	if len(args) == 0 {
		return subUsage(e, usage...)
	}
	sub := args[0]
	scope, name, ttl, asJSON := new(string), new(string), new(time.Duration), new(bool)
	setup := func(fs *flag.FlagSet) {
		switch sub {
		case "create":
			fs.StringVar(scope, "scope", "", "read, write or admin (default: the widest the user's role allows)")
			fs.StringVar(name, "name", "cli", "a name to recognise the token by")
			fs.DurationVar(ttl, "ttl", 0, "lifetime (default 90 days, at most 365 days)")
		case "list":
			fs.BoolVar(asJSON, "json", false, "print JSON")
		}
	}
	return accountsCmd(ctx, e, "token "+sub, "[flags] ...", args[1:], setup, func(a *app.App, by auth.Principal, fs *flag.FlagSet) error {
		svc := a.Auth()
		switch sub {
		case "create":
			if fs.NArg() != 1 {
				return subUsage(e, usage...)
			}
			t, secret, err := svc.CreateToken(ctx, by, fs.Arg(0), *name, auth.Scope(*scope), *ttl, "")
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "token %s for %s (scope %s, expires %s)\n", t.ID, t.User, t.Scope, t.Expires.Format(time.RFC3339))
			fmt.Fprintln(e.stdout, secret)
			return nil
		case "list":
			ts, err := svc.ListTokens(ctx, by, true)
			if err != nil {
				return err
			}
			if *asJSON {
				return json.NewEncoder(e.stdout).Encode(ts)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tUSER\tSCOPE\tNAME\tEXPIRES\tSTATE")
			now := time.Now()
			for _, t := range ts {
				state := "active"
				switch {
				case !t.Revoked.IsZero():
					state = "revoked"
				case !now.Before(t.Expires):
					state = "expired"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.User, t.Scope, t.Name, t.Expires.Format(time.RFC3339), state)
			}
			return tw.Flush()
		case "revoke":
			if fs.NArg() != 1 {
				return subUsage(e, usage...)
			}
			if err := svc.RevokeToken(ctx, by, fs.Arg(0), ""); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "revoked %s\n", fs.Arg(0))
			return nil
		}
		return subUsage(e, usage...)
	})
}

// InitialPasswordFile is where serve writes the first admin's password.
const InitialPasswordFile = "initial-admin-password"

// bootstrapAdmin creates the first admin when there are no users, and
// writes its password once to DATA/initial-admin-password (0600).
func bootstrapAdmin(ctx context.Context, e *env, a *app.App) error {
	user, pw, err := a.Auth().Bootstrap(ctx, auth.LocalPrincipal(glasshouse.DefaultTenant, "serve"))
	if err != nil {
		return fmt.Errorf("create the first admin: %w", err)
	}
	if pw == "" {
		return nil
	}
	// With --db and --blobs the data folder holds only this file (and
	// upload staging); it may not exist yet.
	if err := os.MkdirAll(a.Config().DataDir, 0o700); err != nil {
		return fmt.Errorf("write the first admin's password: %w", err)
	}
	path := filepath.Join(a.Config().DataDir, InitialPasswordFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		os.Remove(path) // a stale file from an earlier database
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	}
	if err != nil {
		return fmt.Errorf("write the first admin's password: %w", err)
	}
	_, err = fmt.Fprintf(f, "%s\n", pw)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write the first admin's password: %w", err)
	}
	e.log.Warn("created the first admin of tenant default; its password is in the file (delete it after signing in and changing the password)",
		"user", user, "password_file", path)
	return nil
}
