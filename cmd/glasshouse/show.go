package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/app"
)

func openApp(ctx context.Context, e *env, b backendFlags) (*app.App, error) {
	cfg := b.config()
	cfg.Logger = e.log
	return app.Open(ctx, cfg)
}

func cmdShow(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "show", "[flags] ASSET-ID")
	var b backendFlags
	b.register(fs)
	asJSON := fs.Bool("json", false, "print the asset and its insight document as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitError{code: 2, msg: "give one asset id"}
	}
	a, err := openApp(ctx, e, b)
	if err != nil {
		return err
	}
	defer a.Close()
	actor := b.actor()
	id := glasshouse.AssetID(fs.Arg(0))
	as, err := a.GetAsset(ctx, actor, id)
	if err != nil {
		return err
	}
	ins, err := a.Insights(ctx, actor, id)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"asset": as, "insights": ins})
	}
	w := e.stdout
	fmt.Fprintf(w, "%s  %s\n", as.ID, as.Name)
	fmt.Fprintf(w, "  type %s (%s), %s, sha256 %s\n", as.MediaType, as.Kind, humanBytes(as.Size), as.Hash.Hex())
	if p := as.Probe; p != nil {
		fmt.Fprintf(w, "  %s, %s", p.Format, fmtDur(p.DurationMS))
		if p.Width > 0 {
			fmt.Fprintf(w, ", %dx%d", p.Width, p.Height)
		}
		fmt.Fprintln(w)
	}
	if as.Collection != "" {
		fmt.Fprintf(w, "  collection %s\n", as.Collection)
	}
	fmt.Fprintf(w, "  stored %s\n", as.Created.Format("2006-01-02 15:04:05Z07:00"))
	for _, r := range as.Runs {
		line := fmt.Sprintf("  analyzer %-9s v%s %s", r.Name, r.Version, r.State)
		if r.Model != "" {
			line += "  model " + r.Model
		}
		if r.Error != "" {
			line += "  error: " + r.Error
		}
		fmt.Fprintln(w, line)
	}
	for _, s := range ins.Transcript {
		fmt.Fprintf(w, "  speech  %s-%s  %s\n", fmtDur(s.StartMS), fmtDur(s.EndMS), s.Text)
	}
	for _, o := range ins.OCR {
		fmt.Fprintf(w, "  text    %s-%s  %s\n", fmtDur(o.StartMS), fmtDur(o.EndMS), o.Text)
	}
	for _, s := range ins.Shots {
		fmt.Fprintf(w, "  shot %d  %s-%s\n", s.Index, fmtDur(s.StartMS), fmtDur(s.EndMS))
	}
	for _, l := range ins.Labels {
		fmt.Fprintf(w, "  label   %s (%.2f) in %d range(s)\n", l.Name, l.Confidence, len(l.Ranges))
	}
	if len(ins.Faces) > 0 {
		fmt.Fprintf(w, "  faces   %d detected track(s) (detection only, for blurring and counting)\n", len(ins.Faces))
	}
	if len(ins.Keywords) > 0 {
		var ks []string
		for _, k := range ins.Keywords {
			ks = append(ks, k.Text)
		}
		fmt.Fprintf(w, "  keywords %s\n", strings.Join(ks, ", "))
	}
	return nil
}

func cmdStatus(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "status", "[flags]")
	var b backendFlags
	b.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	set := buildAnalyzers(e.log, b)
	defer set.close()
	cfg := b.config()
	cfg.Logger = e.log
	cfg.Analyzers, cfg.Derived, cfg.Unavailable = set.analyzers, set.derived, set.unavailable
	a, err := app.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	st, err := a.Status(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	fmt.Fprintf(e.stdout, "glasshouse %s  blobs=%s db=%s\n", st.Version, st.Blobs, st.DB)
	for _, an := range st.Analyzers {
		state := "enabled"
		if !an.Enabled {
			state = "DISABLED: " + an.Model.Problem
		}
		fmt.Fprintf(e.stdout, "  %-9s v%-3s %s", an.Name, an.Version, state)
		if an.Model.Name != "" && an.Enabled {
			fmt.Fprintf(e.stdout, "  (%s", an.Model.Name)
			if an.Model.SHA256 != "" {
				fmt.Fprintf(e.stdout, " sha256 %.12s", an.Model.SHA256)
			}
			fmt.Fprint(e.stdout, ")")
		}
		fmt.Fprintln(e.stdout)
	}
	fmt.Fprintf(e.stdout, "  jobs: %v\n", st.Jobs)
	return nil
}
