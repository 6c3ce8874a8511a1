package pgsearch

import (
	"context"
	"fmt"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/search"
)

// searchBounded runs a query driven by one text atom as the embedded index
// does: the atom's matching segments are read best quality bucket first,
// newest first within a bucket (the search_seg_quality index; PostgreSQL
// chooses between walking it and filtering by the tsquery, for words that
// match often, and the GIN index with a top-N sort, for rare ones), and
// only the first x.bound are scored (ts_rank, computed for those rows
// only), grouped by asset, checked against the query's other conditions
// and paged. When more segments matched than the bound, Total counts the
// asset groups among the candidates and TotalEstimated is set; with fewer
// the result is exact and the same as the exact path's.
func (x *Index) searchBounded(ctx context.Context, q search.Query, b *builder, root *search.Node, drv *search.Atom, cur *search.Cursor) (*search.Hits, error) {
	// PostgreSQL's planner, left alone, often reads every match of a
	// common word through the GIN index and sorts them (hundreds of
	// thousands of rows) where far fewer would do. The plan is chosen here
	// from the same statistics and imposed for the candidate statement:
	// for words in many segments, walking the quality index in order and
	// testing each row; for the others, the GIN index, then a top-N sort.
	// (Reading the best quality buckets first did not pay: the best
	// buckets are the shortest segments, which hold a given word about 20
	// times less often than their share of rows, so the first pass rarely
	// found enough candidates and the second read everything anyway.)
	st, err := x.stats.get(ctx, x.db)
	if err != nil {
		return nil, err
	}
	setting := "SET LOCAL enable_indexscan = off" // the GIN index, then a top-N sort
	if st.walk(drv.Match, x.bound+1) {
		setting = "SET LOCAL enable_bitmapscan = off" // the quality index, in order
	}
	if _, err := b.tx.ExecContext(ctx, setting+"; SET LOCAL enable_seqscan = off"); err != nil {
		return nil, fmt.Errorf("plan candidates: %w", err)
	}
	// The score is computed in the outer query so that ts_rank runs on the
	// candidates only, not on every match; its arguments come first.
	var args []any
	score := scoreSQL(drv, &args)
	where := b.atomWhere(drv, &args)
	args = append(args, x.bound+1)
	query := "SELECT s.id, s.asset, s.collection, s.media_kind, s.kind, s.source, s.start_ms, s.end_ms, s.confidence, s.text, " + score +
		" FROM (SELECT s.id, s.asset, s.collection, s.media_kind, s.kind, s.source, s.start_ms, s.end_ms, s.confidence, s.text, s.tsv, s.quality" +
		" FROM search_seg s WHERE " + where + " ORDER BY s.quality DESC, s.id DESC LIMIT ?) AS s ORDER BY s.quality DESC, s.id DESC"
	rows, err := b.tx.QueryContext(ctx, rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("query candidates: %w", err)
	}
	groups := map[glasshouse.AssetID]*search.CandidateGroup{}
	var order []string
	n := 0
	truncated := false
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
		if err := rows.Scan(&c.ID, &asset, &coll, &media, &c.Kind, &c.Source, &c.StartMS, &c.EndMS, &c.Confidence, &c.Text, &c.Score); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan candidate: %w", err)
		}
		search.Add(groups, &order, glasshouse.AssetID(asset), coll, glasshouse.MediaKind(media), &c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read candidates: %w", err)
	}
	if _, err := b.tx.ExecContext(ctx, "RESET enable_indexscan; RESET enable_bitmapscan; RESET enable_seqscan"); err != nil {
		return nil, fmt.Errorf("reset plan settings: %w", err)
	}

	// The other conditions of an AND, for the candidate assets only.
	if err := search.Restrict(root, groups, func(n *search.Node) (map[glasshouse.AssetID]bool, error) {
		return x.assetsIn(ctx, b, n, order)
	}); err != nil {
		return nil, err
	}

	out, page := search.Page(q, groups, cur, truncated)
	for _, g := range page {
		g.Hits = make([]search.Hit, len(g.Cands))
		for i, c := range g.Cands {
			g.Hits[i] = c.Hit
			g.Hits[i].Snippet = search.MarkSnippet(snippet(c.Text, drv.Match, 24), markOpen, markClose)
		}
		out.Assets = append(out.Assets, g.AssetHits)
	}
	return out, nil
}

// assetsIn returns which of assets are in the set of n.
func (x *Index) assetsIn(ctx context.Context, b *builder, n *search.Node, assets []string) (map[glasshouse.AssetID]bool, error) {
	var args []any
	set := b.setSQL(n, &args)
	args = append(args, assets)
	rows, err := b.tx.QueryContext(ctx, rebind("SELECT DISTINCT asset FROM ("+set+")"+b.as()+" WHERE asset = ANY(?)"), args...)
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
