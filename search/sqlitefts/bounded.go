package sqlitefts

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/search"
)

// searchBounded runs a query driven by one text atom: FTS5 yields the
// atom's matching segments in descending id order, that is best static
// quality bucket first (see bucket), and reading stops after x.bound
// segments. Only these candidates are scored (in Go, see scorer), grouped
// by asset, checked against the query's other conditions and paged. When
// more segments matched than the bound, Total counts the asset groups
// among the candidates and TotalEstimated is set; with fewer, the result
// is exact.
func (x *Index) searchBounded(ctx context.Context, q search.Query, b *builder, root *search.Node, drv *search.Atom, cur *search.Cursor) (*search.Hits, error) {
	sc, err := newScorer(ctx, x.db, drv)
	if err != nil {
		return nil, err
	}
	var args []any
	from, where := b.atomFrom(drv, &args)
	args = append(args, x.bound+1)
	rows, err := x.db.QueryContext(ctx, "SELECT s.id, s.asset, s.collection, s.media_kind, s.kind, s.source, s.start_ms, s.end_ms, s.confidence, s.text FROM "+
		from+" WHERE "+where+" ORDER BY search_fts.rowid DESC LIMIT ?", args...)
	if err != nil {
		return nil, fmt.Errorf("query candidates: %w", err)
	}
	groups := map[glasshouse.AssetID]*search.CandidateGroup{}
	var order []string
	n := 0
	truncated := false
	var toks []token
	for rows.Next() {
		if n == x.bound {
			truncated = true
			break
		}
		n++
		var (
			c                  search.Candidate
			asset, coll, media string
		)
		if err := rows.Scan(&c.ID, &asset, &coll, &media, &c.Kind, &c.Source, &c.StartMS, &c.EndMS, &c.Confidence, &c.Text); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan candidate: %w", err)
		}
		toks = tokenize(c.Text, toks)
		c.Score = sc.score(toks, c.Confidence)
		search.Add(groups, &order, glasshouse.AssetID(asset), coll, glasshouse.MediaKind(media), &c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read candidates: %w", err)
	}

	// The other conditions of an AND, for the candidate assets only.
	var list []byte // the candidate assets as a JSON array, made on first use
	if err := search.Restrict(root, groups, func(n *search.Node) (map[glasshouse.AssetID]bool, error) {
		if list == nil {
			var err error
			if list, err = json.Marshal(order); err != nil {
				return nil, fmt.Errorf("encode candidates: %w", err)
			}
		}
		return x.assetsIn(ctx, b, n, list)
	}); err != nil {
		return nil, err
	}

	out, page := search.Page(q, groups, cur, truncated)
	var ids []int64 // hits whose snippet FTS5 makes
	snips := map[int64]string{}
	for _, g := range page {
		for _, c := range g.Cands {
			toks = tokenize(c.Text, toks)
			if s, ok := sc.snippet(c.Text, toks); ok {
				snips[c.ID] = s
			} else {
				ids = append(ids, c.ID)
			}
		}
	}
	if len(ids) > 0 {
		if err := x.snippets(ctx, drv.Match, ids, snips); err != nil {
			return nil, err
		}
	}
	for _, g := range page {
		g.Hits = make([]search.Hit, len(g.Cands))
		for i, c := range g.Cands {
			g.Hits[i] = c.Hit
			g.Hits[i].Snippet = snips[c.ID]
		}
		out.Assets = append(out.Assets, g.AssetHits)
	}
	return out, nil
}

// assetsIn returns which of the assets in list (a JSON array) are in the
// set of n.
func (x *Index) assetsIn(ctx context.Context, b *builder, n *search.Node, list []byte) (map[glasshouse.AssetID]bool, error) {
	var args []any
	set := b.setSQL(n, &args)
	args = append(args, string(list))
	rows, err := x.db.QueryContext(ctx, "SELECT DISTINCT asset FROM ("+set+") WHERE asset IN (SELECT value FROM json_each(?))", args...)
	if err != nil {
		return nil, fmt.Errorf("query condition: %w", err)
	}
	defer rows.Close()
	in := map[glasshouse.AssetID]bool{}
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, fmt.Errorf("scan condition: %w", err)
		}
		in[glasshouse.AssetID(a)] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read condition: %w", err)
	}
	return in, nil
}
