package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"path/filepath"
	"strings"

	"github.com/glasshouse/glasshouse/search"
)

func absJoin(dir, name string) string {
	p, err := filepath.Abs(filepath.Join(dir, name))
	if err != nil {
		return filepath.Join(dir, name)
	}
	return p
}

func cmdSearch(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "search", "[flags] QUERY...")
	var b backendFlags
	b.register(fs)
	asJSON := fs.Bool("json", false, "print the hits as JSON")
	limit := fs.Int("limit", 20, "assets per page")
	cursor := fs.String("cursor", "", "cursor from a previous page")
	collection := fs.String("collection", "", "only this collection")
	if err := parse(fs, args); err != nil {
		return err
	}
	q := strings.Join(fs.Args(), " ")
	if strings.TrimSpace(q) == "" {
		fs.Usage()
		fmt.Fprintln(e.stderr, "\nQuery language: words, \"exact phrase\", prefix*, OR, -exclude, in:speech|text|label|keyword|name|note,\nlabel:dog, collection:x, type:video|audio|image, after:2025-07-01, before:..., (grouping), AND")
		return exitError{code: 2, msg: "no query given"}
	}
	a, err := openApp(ctx, e, b)
	if err != nil {
		return err
	}
	defer a.Close()
	sq := search.Query{Text: q, Cursor: *cursor, Limit: *limit}
	if *collection != "" {
		sq.Collections = []string{*collection}
	}
	hits, err := a.Search(ctx, b.actor(), sq)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(hits)
	}
	if len(hits.Assets) == 0 {
		fmt.Fprintln(e.stdout, "no matches")
		return nil
	}
	for _, ah := range hits.Assets {
		as, err := a.DB().GetAsset(ctx, b.actor().Tenant, ah.Asset)
		name := string(ah.Asset)
		if err == nil {
			name = as.Name
		}
		fmt.Fprintf(e.stdout, "%s  %s\n", ah.Asset, name)
		for _, h := range ah.Hits {
			fmt.Fprintf(e.stdout, "    %-8s %s-%s  %s\n", h.Kind, fmtDur(h.StartMS), fmtDur(h.EndMS), plainSnippet(h.Snippet))
		}
	}
	if hits.TotalEstimated {
		fmt.Fprintf(e.stdout, "at least %d asset(s) match\n", hits.Total)
	} else {
		fmt.Fprintf(e.stdout, "%d asset(s) match\n", hits.Total)
	}
	if hits.Next != "" {
		fmt.Fprintf(e.stdout, "more: --cursor %s\n", hits.Next)
	}
	return nil
}

// plainSnippet turns the HTML snippet into terminal text with [matches].
func plainSnippet(s string) string {
	s = strings.ReplaceAll(s, "<mark>", "[")
	s = strings.ReplaceAll(s, "</mark>", "]")
	return html.UnescapeString(s)
}
