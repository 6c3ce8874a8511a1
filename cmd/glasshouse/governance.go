package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/app"
	"github.com/glasshouse/glasshouse/media"
)

// limitFlags are the input-hardening limits of ingest.
type limitFlags struct {
	allow                  string
	maxPixels, maxVideoPix int64
	maxDuration            time.Duration
	maxStreams             int
}

func (l *limitFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.allow, "allow-types", envOr("GLASSHOUSE_ALLOW_TYPES", ""), "comma-separated media types accepted (video/mp4,image/*); empty: every supported type")
	fs.Int64Var(&l.maxPixels, "max-pixels", media.DefaultPreflight.MaxImagePixels, "largest image (width*height), checked from the header before decoding")
	fs.Int64Var(&l.maxVideoPix, "max-video-pixels", media.DefaultPreflight.MaxVideoPixels, "largest video frame (width*height), from ffprobe before decoding")
	fs.DurationVar(&l.maxDuration, "max-duration", media.DefaultPreflight.MaxDuration, "longest audio or video accepted")
	fs.IntVar(&l.maxStreams, "max-streams", media.DefaultPreflight.MaxStreams, "most streams in one file")
}

func (l *limitFlags) apply(cfg *app.Config) {
	for _, t := range strings.Split(l.allow, ",") {
		if t = strings.TrimSpace(t); t != "" {
			cfg.AllowedTypes = append(cfg.AllowedTypes, t)
		}
	}
	cfg.Preflight = media.PreflightLimits{MaxImagePixels: l.maxPixels, MaxVideoPixels: l.maxVideoPix, MaxDuration: l.maxDuration, MaxStreams: l.maxStreams}
}

func cliActor(tenant string) glasshouse.Actor {
	return glasshouse.Actor{Tenant: glasshouse.TenantID(tenant), User: cliUser()}
}

func printJSON(e *env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// cmdUsage prints the usage report of a tenant, or of all (--all).
func cmdUsage(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "usage", "[flags]")
	var b backendFlags
	b.register(fs)
	tenant := fs.String("tenant", string(glasshouse.DefaultTenant), "tenant to report on")
	all := fs.Bool("all", false, "every tenant and the totals (operator view: figures only)")
	from := fs.String("from", "", "first day, YYYY-MM-DD (default 29 days before --to)")
	to := fs.String("to", "", "last day, YYYY-MM-DD (default today, UTC)")
	format := fs.String("format", "table", "table, json or csv")
	if err := parse(fs, args); err != nil {
		return err
	}
	t, err := app.ParseDay(*to, time.Now())
	if err != nil {
		return err
	}
	f, err := app.ParseDay(*from, t.AddDate(0, 0, -29))
	if err != nil {
		return err
	}
	a, err := openApp(ctx, e, b)
	if err != nil {
		return err
	}
	defer a.Close()
	var us []*glasshouse.Usage
	var v any
	if *all {
		ou, err := a.OperatorUsage(ctx, cliActor(*tenant), f, t)
		if err != nil {
			return err
		}
		us, v = append([]*glasshouse.Usage{ou.Total}, ou.Tenants...), ou
	} else {
		u, err := a.Usage(ctx, cliActor(*tenant), f, t)
		if err != nil {
			return err
		}
		us, v = []*glasshouse.Usage{u}, u
	}
	switch *format {
	case "json":
		return printJSON(e, v)
	case "csv":
		return glasshouse.WriteUsageCSV(e.stdout, us...)
	case "table":
	default:
		return exitError{code: 2, msg: "--format must be table, json or csv"}
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, u := range us {
		name := string(u.Tenant)
		if name == "" {
			name = "all tenants"
		}
		last := u.StoredBytes[len(u.StoredBytes)-1]
		fmt.Fprintf(tw, "%s, %s to %s\n", name, u.From, u.To)
		fmt.Fprintf(tw, "  stored\t%s on %s (%s on %s)\n", humanBytes(last.Bytes), last.Day, humanBytes(u.StoredBytes[0].Bytes), u.StoredBytes[0].Day)
		for _, k := range u.Kinds {
			fmt.Fprintf(tw, "  %s\t%d assets, %s, %.2f media hours\n", k.Kind, k.Assets, humanBytes(k.Bytes), k.MediaHours)
		}
		var an []string
		for n, c := range u.Analyses {
			an = append(an, fmt.Sprintf("%s %d", n, c))
		}
		fmt.Fprintf(tw, "  analyses\t%s\n", strings.Join(sortedStrings(an), ", "))
		fmt.Fprintf(tw, "  searches\t%d\n  exports\t%d\n  uploads\t%d\n  deletions\t%d\n", u.Searches, u.Exports, u.Uploads, u.Deletions)
	}
	return tw.Flush()
}

func sortedStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// cmdRetention lists, sets and removes retention rules, and sweeps once.
func cmdRetention(ctx context.Context, e *env, args []string) error {
	usage := func() error {
		fmt.Fprintln(e.stderr, "Usage: glasshouse retention list [flags]")
		fmt.Fprintln(e.stderr, "       glasshouse retention set [flags] --days N (--collection NAME | --all)")
		fmt.Fprintln(e.stderr, "       glasshouse retention rm [flags] (--collection NAME | --all)")
		fmt.Fprintln(e.stderr, "       glasshouse retention sweep [flags]   delete what is due now (serve sweeps on --retention-interval)")
		return exitError{code: 2}
	}
	if len(args) == 0 {
		return usage()
	}
	sub := args[0]
	fs := newFlagSet(e, "retention "+sub, "[flags]")
	var b backendFlags
	b.register(fs)
	tenant := fs.String("tenant", string(glasshouse.DefaultTenant), "tenant")
	coll := fs.String("collection", "", "collection the rule is for")
	all := fs.Bool("all", false, "the tenant-wide rule (collections without their own rule)")
	days := fs.Int("days", 0, "set: delete assets this many days after they were stored")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	collSet := false
	fs.Visit(func(f *flag.Flag) { collSet = collSet || f.Name == "collection" })
	if (sub == "set" || sub == "rm") && collSet == *all {
		return exitError{code: 2, msg: "name the rule: --collection NAME or --all"}
	}
	a, err := openApp(ctx, e, b)
	if err != nil {
		return err
	}
	defer a.Close()
	actor := cliActor(*tenant)
	switch sub {
	case "list":
		rules, err := a.RetentionRules(ctx, actor)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(e, rules)
		}
		for _, r := range rules {
			what := fmt.Sprintf("collection %q", r.Collection)
			if r.All {
				what = "all collections"
			}
			fmt.Fprintf(e.stdout, "%s: delete after %d days (set by %s)\n", what, r.Days, r.SetBy)
		}
		return nil
	case "set":
		r, err := a.SetRetention(ctx, actor, glasshouse.RetentionRule{All: *all, Collection: *coll, Days: *days})
		if err != nil {
			return err
		}
		return printJSON(e, r)
	case "rm":
		return a.DeleteRetention(ctx, actor, *all, *coll)
	case "sweep":
		res, err := a.SweepRetention(ctx, time.Now())
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(e, res)
		}
		fmt.Fprintf(e.stdout, "%d due, %d deleted, %d kept by legal hold, %d failed\n", res.Due, res.Deleted, res.Held, res.Failed)
		for _, m := range res.Errors {
			fmt.Fprintln(e.stderr, m)
		}
		if res.Failed > 0 {
			return exitError{code: 1}
		}
		return nil
	}
	return usage()
}

// cmdHold places, releases and lists legal holds.
func cmdHold(ctx context.Context, e *env, args []string) error {
	usage := func() error {
		fmt.Fprintln(e.stderr, "Usage: glasshouse hold list [flags]")
		fmt.Fprintln(e.stderr, "       glasshouse hold set [flags] --reason TEXT (--asset ID | --collection NAME)")
		fmt.Fprintln(e.stderr, "       glasshouse hold release [flags] (--asset ID | --collection NAME)")
		return exitError{code: 2}
	}
	if len(args) == 0 {
		return usage()
	}
	sub := args[0]
	fs := newFlagSet(e, "hold "+sub, "[flags]")
	var b backendFlags
	b.register(fs)
	tenant := fs.String("tenant", string(glasshouse.DefaultTenant), "tenant")
	asset := fs.String("asset", "", "asset id")
	coll := fs.String("collection", "", "collection name")
	reason := fs.String("reason", "", "set: why (matter, case number)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	scope, target := glasshouse.HoldAsset, *asset
	collSet := false
	fs.Visit(func(f *flag.Flag) { collSet = collSet || f.Name == "collection" })
	if collSet {
		scope, target = glasshouse.HoldCollection, *coll
	}
	if sub != "list" && (collSet == (*asset != "")) {
		return exitError{code: 2, msg: "name what to hold: --asset ID or --collection NAME"}
	}
	a, err := openApp(ctx, e, b)
	if err != nil {
		return err
	}
	defer a.Close()
	actor := cliActor(*tenant)
	switch sub {
	case "list":
		hs, err := a.Holds(ctx, actor)
		if err != nil {
			return err
		}
		return printJSON(e, hs)
	case "set":
		h, err := a.SetHold(ctx, actor, scope, target, *reason)
		if err != nil {
			return err
		}
		return printJSON(e, h)
	case "release":
		return a.ReleaseHold(ctx, actor, scope, target)
	}
	return usage()
}

// cmdPolicy shows or (operator) sets a tenant's limits.
func cmdPolicy(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || (args[0] != "show" && args[0] != "set") {
		fmt.Fprintln(e.stderr, "Usage: glasshouse policy show [--tenant T]")
		fmt.Fprintln(e.stderr, "       glasshouse policy set [--tenant T] [--quota BYTES] [--analyzers probe,shots,...|all]")
		return exitError{code: 2}
	}
	sub := args[0]
	fs := newFlagSet(e, "policy "+sub, "[flags]")
	var b backendFlags
	b.register(fs)
	tenant := fs.String("tenant", string(glasshouse.DefaultTenant), "tenant")
	quota := fs.Int64("quota", 0, "set: storage quota in bytes of originals (0: none)")
	analyzers := fs.String("analyzers", "all", "set: comma-separated analyzers that may run, or all")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	cfg := b.config()
	cfg.Logger = e.log
	if sub == "set" {
		set := buildAnalyzers(e.log, b)
		defer set.close()
		cfg.Analyzers, cfg.Derived, cfg.Unavailable = set.analyzers, set.derived, set.unavailable
	}
	a, err := app.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	if sub == "show" {
		p, err := a.TenantPolicy(ctx, glasshouse.TenantID(*tenant))
		if err != nil {
			return err
		}
		return printJSON(e, p)
	}
	p := glasshouse.Policy{Tenant: glasshouse.TenantID(*tenant), QuotaBytes: *quota}
	if *analyzers != "all" {
		p.Analyzers = []string{}
		for _, n := range strings.Split(*analyzers, ",") {
			if n = strings.TrimSpace(n); n != "" {
				p.Analyzers = append(p.Analyzers, n)
			}
		}
	}
	out, err := a.SetPolicy(ctx, glasshouse.Actor{Tenant: "operator", User: cliUser()}, p)
	if err != nil {
		return err
	}
	return printJSON(e, out)
}
