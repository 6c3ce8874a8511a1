// Package sqlitefts implements search.Index with SQLite FTS5, in the same
// database file as the catalog.
//
// Tables (created by New if missing):
//
//	search_seg  one row per segment: tenant, asset, collection, media_kind,
//	            kind, source, start_ms, end_ms, confidence, created (Unix ms)
//	            and a hash of the text (part of the segment's identity)
//	search_fts  FTS5 table (unicode61, diacritics removed, prefix indexes
//	            of 2 and 3 characters) holding the text; rowid = search_seg.id
//
// Every query restricts search_seg.tenant (and the allowed collections) in
// SQL; user text reaches FTS5 MATCH only as quoted tokens of letters and
// digits.
package sqlitefts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/search"
)

// Index is a search.Index over a *sql.DB using modernc.org/sqlite (or any
// SQLite driver with FTS5).
type Index struct {
	db *sql.DB
}

var _ search.Index = (*Index)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS search_seg (
	id         INTEGER PRIMARY KEY,
	tenant     TEXT NOT NULL,
	asset      TEXT NOT NULL,
	collection TEXT NOT NULL,
	media_kind TEXT NOT NULL,
	kind       TEXT NOT NULL,
	source     TEXT NOT NULL,
	start_ms   INTEGER NOT NULL,
	end_ms     INTEGER NOT NULL,
	confidence REAL NOT NULL,
	created    INTEGER NOT NULL,
	thash      INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS search_seg_key ON search_seg(asset, source, kind, start_ms, end_ms, thash);
CREATE INDEX IF NOT EXISTS search_seg_tenant ON search_seg(tenant, kind, asset);
CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(text, tokenize='unicode61 remove_diacritics 2', prefix='2 3');
`

// New creates the index tables in db if they do not exist.
func New(ctx context.Context, db *sql.DB) (*Index, error) {
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return nil, glasshouse.E("sqlitefts.New", glasshouse.ErrUnavailable, err, "create search tables")
	}
	return &Index{db: db}, nil
}

// Markers FTS5 puts around matches; segment text never holds them (see
// search.CleanText).
const markOpen, markClose = "\x02", "\x03"

func textHash(s string) int64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return int64(h.Sum64())
}

func createdMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func validate(op string, s *glasshouse.Segment) error {
	switch {
	case s.Tenant == "":
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "segment without tenant")
	case s.Asset == "":
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "segment without asset")
	case s.EndMS < s.StartMS:
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "segment of asset %s ends (%d ms) before it starts (%d ms)", s.Asset, s.EndMS, s.StartMS)
	case math.IsNaN(s.Confidence) || s.Confidence < 0 || s.Confidence > 1:
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "segment confidence %v outside 0..1", s.Confidence)
	}
	switch s.Kind {
	case glasshouse.SegSpeech, glasshouse.SegText, glasshouse.SegLabel, glasshouse.SegKeyword, glasshouse.SegName, glasshouse.SegNote:
	default:
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "unknown segment kind %q", s.Kind)
	}
	return nil
}

// Upsert adds segments, or updates those that exist (same asset, source,
// kind, start, end and text), in one transaction.
func (x *Index) Upsert(ctx context.Context, segs ...glasshouse.Segment) error {
	const op = "sqlitefts.Upsert"
	if len(segs) == 0 {
		return nil
	}
	for i := range segs {
		if err := validate(op, &segs[i]); err != nil {
			return err
		}
	}
	return x.tx(ctx, op, func(tx *sql.Tx) error { return insert(ctx, tx, segs) })
}

func (x *Index) tx(ctx context.Context, op string, fn func(*sql.Tx) error) error {
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return glasshouse.E(op, glasshouse.ErrUnavailable, err, "begin")
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		var ge *glasshouse.Error
		if errors.As(err, &ge) {
			return err
		}
		return glasshouse.E(op, glasshouse.ErrUnavailable, err, "")
	}
	if err := tx.Commit(); err != nil {
		return glasshouse.E(op, glasshouse.ErrUnavailable, err, "commit")
	}
	return nil
}

func insert(ctx context.Context, tx *sql.Tx, segs []glasshouse.Segment) error {
	find, err := tx.PrepareContext(ctx, `SELECT id FROM search_seg WHERE asset=? AND source=? AND kind=? AND start_ms=? AND end_ms=? AND thash=?`)
	if err != nil {
		return fmt.Errorf("prepare find: %w", err)
	}
	defer find.Close()
	upd, err := tx.PrepareContext(ctx, `UPDATE search_seg SET tenant=?, collection=?, media_kind=?, confidence=?, created=? WHERE id=?`)
	if err != nil {
		return fmt.Errorf("prepare update: %w", err)
	}
	defer upd.Close()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO search_seg(tenant, asset, collection, media_kind, kind, source, start_ms, end_ms, confidence, created, thash) VALUES (?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return fmt.Errorf("prepare insert: %w", err)
	}
	defer ins.Close()
	insText, err := tx.PrepareContext(ctx, `INSERT INTO search_fts(rowid, text) VALUES (?, ?)`)
	if err != nil {
		return fmt.Errorf("prepare insert text: %w", err)
	}
	defer insText.Close()
	for i := range segs {
		s := &segs[i]
		text := search.CleanText(s.Text)
		h := textHash(text)
		var id int64
		err := find.QueryRowContext(ctx, string(s.Asset), s.Source, s.Kind, s.StartMS, s.EndMS, h).Scan(&id)
		switch {
		case err == nil:
			if _, err := upd.ExecContext(ctx, string(s.Tenant), s.Collection, string(s.MediaKind), s.Confidence, createdMS(s.Created), id); err != nil {
				return fmt.Errorf("update segment: %w", err)
			}
			continue
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("find segment: %w", err)
		}
		res, err := ins.ExecContext(ctx, string(s.Tenant), string(s.Asset), s.Collection, string(s.MediaKind), s.Kind, s.Source, s.StartMS, s.EndMS, s.Confidence, createdMS(s.Created), h)
		if err != nil {
			return fmt.Errorf("insert segment: %w", err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return fmt.Errorf("insert segment: %w", err)
		}
		if _, err := insText.ExecContext(ctx, id, text); err != nil {
			return fmt.Errorf("insert segment text: %w", err)
		}
	}
	return nil
}

// ReplaceAsset replaces the asset's segments from source by segs.
func (x *Index) ReplaceAsset(ctx context.Context, tenant glasshouse.TenantID, asset glasshouse.AssetID, source string, segs []glasshouse.Segment) error {
	const op = "sqlitefts.ReplaceAsset"
	if tenant == "" || asset == "" {
		return glasshouse.Errorf(op, glasshouse.ErrInvalid, "tenant and asset are required")
	}
	segs = slices.Clone(segs)
	for i := range segs {
		s := &segs[i]
		if s.Tenant == "" {
			s.Tenant = tenant
		}
		if s.Asset == "" {
			s.Asset = asset
		}
		if s.Source == "" {
			s.Source = source
		}
		if s.Tenant != tenant || s.Asset != asset || s.Source != source {
			return glasshouse.Errorf(op, glasshouse.ErrInvalid, "segment of %s/%s/%s given to replace %s/%s/%s", s.Tenant, s.Asset, s.Source, tenant, asset, source)
		}
		if err := validate(op, s); err != nil {
			return err
		}
	}
	return x.tx(ctx, op, func(tx *sql.Tx) error {
		var other string
		err := tx.QueryRowContext(ctx, `SELECT tenant FROM search_seg WHERE asset=? AND tenant<>? LIMIT 1`, string(asset), string(tenant)).Scan(&other)
		if err == nil {
			return glasshouse.Errorf(op, glasshouse.ErrPermission, "asset %s belongs to another tenant", asset)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("check tenant: %w", err)
		}
		if err := deleteWhere(ctx, tx, `asset=? AND source=?`, string(asset), source); err != nil {
			return err
		}
		return insert(ctx, tx, segs)
	})
}

func deleteWhere(ctx context.Context, tx *sql.Tx, where string, args ...any) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM search_fts WHERE rowid IN (SELECT id FROM search_seg WHERE `+where+`)`, args...); err != nil {
		return fmt.Errorf("delete segment text: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM search_seg WHERE `+where, args...); err != nil {
		return fmt.Errorf("delete segments: %w", err)
	}
	return nil
}

// SetCollection moves the asset's segments to collection.
func (x *Index) SetCollection(ctx context.Context, tenant glasshouse.TenantID, asset glasshouse.AssetID, collection string) error {
	const op = "sqlitefts.SetCollection"
	return x.tx(ctx, op, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE search_seg SET collection=? WHERE tenant=? AND asset=?`, collection, string(tenant), string(asset))
		return err
	})
}

// Delete removes every segment of the assets.
func (x *Index) Delete(ctx context.Context, assets ...glasshouse.AssetID) error {
	const op = "sqlitefts.Delete"
	if len(assets) == 0 {
		return nil
	}
	return x.tx(ctx, op, func(tx *sql.Tx) error {
		for _, a := range assets {
			if err := deleteWhere(ctx, tx, `asset=?`, string(a)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Optimize merges the FTS5 index b-trees (run after a bulk load; it can
// take a while on a large index).
func (x *Index) Optimize(ctx context.Context) error {
	if _, err := x.db.ExecContext(ctx, `INSERT INTO search_fts(search_fts) VALUES('optimize')`); err != nil {
		return glasshouse.E("sqlitefts.Optimize", glasshouse.ErrUnavailable, err, "")
	}
	return nil
}

// ---------------------------------------------------------------------------
// Search

// Search runs q; see package search for the language and the ranking.
func (x *Index) Search(ctx context.Context, q search.Query) (*search.Hits, error) {
	const op = "sqlitefts.Search"
	q, err := search.Normalize(q)
	if err != nil {
		return nil, err
	}
	plan, err := search.Compile(q.Text)
	if err != nil {
		return nil, glasshouse.E(op, glasshouse.ErrInvalid, err, "")
	}
	var cur *search.Cursor
	if q.Cursor != "" {
		c, err := search.DecodeCursor(q)
		if err != nil {
			return nil, err
		}
		cur = &c
	}
	b := &builder{tenant: string(q.Tenant), filter: plan.Filter}
	// The caller's allowed collections narrow the query's collection:
	// filter; an empty intersection means nothing can match.
	if q.Collections != nil {
		allowed := q.Collections
		if plan.Filter.Collections != nil {
			allowed = nil
			for _, c := range plan.Filter.Collections {
				if slices.Contains(q.Collections, c) {
					allowed = append(allowed, c)
				}
			}
		}
		if len(allowed) == 0 {
			return &search.Hits{Assets: []search.AssetHits{}}, nil
		}
		b.filter.Collections = allowed
	}
	groups, total, err := x.rank(ctx, b, plan, cur, q.Limit+1)
	if err != nil {
		return nil, glasshouse.E(op, glasshouse.ErrUnavailable, err, "rank")
	}
	more := len(groups) > q.Limit
	if more {
		groups = groups[:q.Limit]
	}
	out := &search.Hits{Assets: make([]search.AssetHits, 0, len(groups)), Total: total}
	if len(groups) == 0 {
		return out, nil
	}
	hits, err := x.hits(ctx, b, plan, groups, q.HitsPerAsset)
	if err != nil {
		return nil, glasshouse.E(op, glasshouse.ErrUnavailable, err, "hits")
	}
	for _, g := range groups {
		g.Hits = hits[g.Asset]
		if g.Hits == nil {
			g.Hits = []search.Hit{}
		}
		out.Assets = append(out.Assets, g)
	}
	if more {
		last := groups[len(groups)-1]
		out.Next = search.EncodeCursor(q, search.Cursor{Score: last.Score, Asset: last.Asset})
	}
	return out, nil
}

// builder accumulates SQL and its arguments.
type builder struct {
	tenant string
	filter search.Filter
}

// global returns the conditions on search_seg s every part of a query has:
// the tenant, the collections, and the query's attribute filter.
func (b *builder) global(args *[]any) string {
	*args = append(*args, b.tenant)
	return "s.tenant = ?" + filterSQL(b.filter, args)
}

func filterSQL(f search.Filter, args *[]any) string {
	var sb strings.Builder
	if f.Collections != nil {
		sb.WriteString(" AND s.collection IN (" + placeholders(len(f.Collections)) + ")")
		for _, c := range f.Collections {
			*args = append(*args, c)
		}
	}
	if f.Types != nil {
		sb.WriteString(" AND s.media_kind IN (" + placeholders(len(f.Types)) + ")")
		for _, t := range f.Types {
			*args = append(*args, string(t))
		}
	}
	if !f.After.IsZero() {
		sb.WriteString(" AND s.created >= ?")
		*args = append(*args, f.After.UnixMilli())
	}
	if !f.Before.IsZero() {
		sb.WriteString(" AND s.created < ?")
		*args = append(*args, f.Before.UnixMilli())
	}
	return sb.String()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// matchSQL compiles a text condition to an FTS5 MATCH expression. Words
// are tokens of letters and digits; they are quoted all the same.
func matchSQL(m *search.Match) string {
	switch m.Op {
	case search.MatchWords:
		s := `"` + strings.ReplaceAll(strings.Join(m.Words, " "), `"`, `""`) + `"`
		if m.Prefix {
			s += " *"
		}
		return s
	case search.MatchAnd, search.MatchOr:
		op := " AND "
		if m.Op == search.MatchOr {
			op = " OR "
		}
		parts := make([]string, len(m.Kids))
		for i, k := range m.Kids {
			parts[i] = matchSQL(k)
		}
		return "(" + strings.Join(parts, op) + ")"
	}
	return `""`
}

// atomWhere returns the FROM clause and conditions of an atom's segments.
func (b *builder) atomFrom(a *search.Atom, args *[]any) (from, where string) {
	var sb strings.Builder
	if a.Match != nil {
		from = `search_fts CROSS JOIN search_seg s ON s.id = search_fts.rowid`
		sb.WriteString("search_fts MATCH ? AND ")
		*args = append(*args, matchSQL(a.Match))
	} else {
		from = `search_seg s`
	}
	sb.WriteString(b.global(args))
	if a.Kinds != nil {
		sb.WriteString(" AND s.kind IN (" + placeholders(len(a.Kinds)) + ")")
		for _, k := range a.Kinds {
			*args = append(*args, k)
		}
	}
	if a.Exact != "" && a.Match != nil {
		sb.WriteString(" AND lower(search_fts.text) = ?")
		*args = append(*args, a.Exact)
	}
	if a.Filter != nil {
		sb.WriteString(filterSQL(*a.Filter, args))
	}
	return from, sb.String()
}

// setSQL returns a SELECT of the distinct assets of n.
func (b *builder) setSQL(n *search.Node, args *[]any) string {
	switch n.Op {
	case search.OpAtom:
		from, where := b.atomFrom(n.Atom, args)
		return "SELECT s.asset AS asset FROM " + from + " WHERE " + where
	case search.OpOr:
		parts := make([]string, len(n.Kids))
		for i, k := range n.Kids {
			parts[i] = "SELECT asset FROM (" + b.setSQL(k, args) + ")"
		}
		return strings.Join(parts, " UNION ")
	}
	var parts []string
	if len(n.Kids) == 0 {
		parts = append(parts, "SELECT s.asset AS asset FROM search_seg s WHERE "+b.global(args))
	}
	for i, k := range n.Kids {
		op := " INTERSECT "
		if i == 0 {
			op = ""
		}
		parts = append(parts, op+"SELECT asset FROM ("+b.setSQL(k, args)+")")
	}
	for _, k := range n.Not {
		parts = append(parts, " EXCEPT SELECT asset FROM ("+b.setSQL(k, args)+")")
	}
	return strings.Join(parts, "")
}

// hitAtoms returns the positive atoms whose segments are hits.
func hitAtoms(n *search.Node) []*search.Atom {
	if n == nil {
		return nil
	}
	if n.Op == search.OpAtom {
		if n.Atom.Hits {
			return []*search.Atom{n.Atom}
		}
		return nil
	}
	var out []*search.Atom
	for _, k := range n.Kids {
		out = append(out, hitAtoms(k)...)
	}
	return out
}

// scoreSQL is the segment score; see package search.
func scoreSQL(a *search.Atom, args *[]any) string {
	s := "(-bm25(search_fts)) * (0.25 + 0.75 * s.confidence)"
	if a.Phrase != nil {
		s += " * (CASE WHEN s.id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?) THEN 2.0 ELSE 1.0 END)"
		*args = append(*args, matchSQL(&search.Match{Op: search.MatchWords, Words: a.Phrase}))
	}
	return s
}

// groupsSQL returns a query of (asset, best) for every matching asset.
func (b *builder) groupsSQL(plan *search.Plan, args *[]any) string {
	root := plan.Root
	atoms := hitAtoms(root)
	if root != nil && root.Op == search.OpAtom && root.Atom.Hits {
		// One text condition: rank its segments directly.
		a := root.Atom
		var sargs []any
		score := scoreSQL(a, &sargs)
		*args = append(*args, sargs...)
		from, where := b.atomFrom(a, args)
		// LIMIT -1 keeps the subquery from being flattened into the
		// aggregate, where FTS5 auxiliary functions cannot run.
		return "SELECT asset, max(score) AS best FROM (SELECT s.asset AS asset, " + score + " AS score FROM " + from + " WHERE " + where + " LIMIT -1) GROUP BY asset"
	}
	var set string
	if root == nil {
		set = "SELECT s.asset AS asset FROM search_seg s WHERE " + b.global(args)
	} else {
		set = b.setSQL(root, args)
	}
	parts := []string{"SELECT asset, 0.0 AS score FROM m"}
	for _, a := range atoms {
		var sargs []any
		score := scoreSQL(a, &sargs)
		*args = append(*args, sargs...)
		from, where := b.atomFrom(a, args)
		parts = append(parts, "SELECT * FROM (SELECT s.asset AS asset, "+score+" AS score FROM "+from+" WHERE "+where+" AND s.asset IN m LIMIT -1)")
	}
	return "WITH m(asset) AS MATERIALIZED (" + set + ") SELECT asset, max(score) AS best FROM (" + strings.Join(parts, " UNION ALL ") + ") GROUP BY asset"
}

// rank returns one page of asset groups (without hits) and the total.
func (x *Index) rank(ctx context.Context, b *builder, plan *search.Plan, cur *search.Cursor, limit int) ([]search.AssetHits, int, error) {
	var args []any
	g := b.groupsSQL(plan, &args)
	q := "WITH g AS MATERIALIZED (" + g + ") SELECT p.asset, p.best, p.total, " +
		"(SELECT collection || char(0) || media_kind FROM search_seg WHERE asset = p.asset LIMIT 1) " +
		"FROM (SELECT g.asset, g.best, (SELECT count(*) FROM g) AS total FROM g"
	if cur != nil {
		q += " WHERE g.best < ? OR (g.best = ? AND g.asset < ?)"
		args = append(args, cur.Score, cur.Score, string(cur.Asset))
	}
	q += " ORDER BY g.best DESC, g.asset DESC LIMIT ?) p ORDER BY p.best DESC, p.asset DESC"
	args = append(args, limit)
	rows, err := x.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("query groups: %w", err)
	}
	defer rows.Close()
	var out []search.AssetHits
	total := 0
	for rows.Next() {
		var (
			g           search.AssetHits
			asset, meta string
		)
		if err := rows.Scan(&asset, &g.Score, &total, &meta); err != nil {
			return nil, 0, fmt.Errorf("scan group: %w", err)
		}
		g.Asset = glasshouse.AssetID(asset)
		c, k, _ := strings.Cut(meta, "\x00")
		g.Collection, g.MediaKind = c, glasshouse.MediaKind(k)
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("read groups: %w", err)
	}
	if len(out) == 0 && cur != nil {
		// Total is still wanted on an empty last page.
		var cargs []any
		cq := "SELECT count(*) FROM (" + b.groupsSQL(plan, &cargs) + ")"
		if err := x.db.QueryRowContext(ctx, cq, cargs...).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("count groups: %w", err)
		}
	}
	return out, total, nil
}

// hits fetches the best hits of each group, with snippets.
func (x *Index) hits(ctx context.Context, b *builder, plan *search.Plan, groups []search.AssetHits, perAsset int) (map[glasshouse.AssetID][]search.Hit, error) {
	atoms := hitAtoms(plan.Root)
	if len(atoms) == 0 {
		return nil, nil
	}
	assetArgs := make([]any, len(groups))
	for i, g := range groups {
		assetArgs[i] = string(g.Asset)
	}
	type cand struct {
		search.Hit
		id    int64
		asset glasshouse.AssetID
		atom  int
	}
	best := map[int64]*cand{}
	for ai, a := range atoms {
		var args []any
		score := scoreSQL(a, &args)
		from, where := b.atomFrom(a, &args)
		args = append(args, assetArgs...)
		// The text condition drives (as when ranking): looking up each
		// segment of the page's assets in FTS5 costs more, most of all
		// for prefixes.
		q := "SELECT s.id, s.asset, s.kind, s.source, s.start_ms, s.end_ms, s.confidence, " + score +
			" FROM " + from + " WHERE " + where +
			" AND s.asset IN (" + placeholders(len(groups)) + ")"
		rows, err := x.db.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("query hits: %w", err)
		}
		for rows.Next() {
			var c cand
			if err := rows.Scan(&c.id, &c.asset, &c.Kind, &c.Source, &c.StartMS, &c.EndMS, &c.Confidence, &c.Score); err != nil {
				rows.Close()
				return nil, fmt.Errorf("scan hit: %w", err)
			}
			c.atom = ai
			if old, ok := best[c.id]; !ok || c.Score > old.Score {
				best[c.id] = &c
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read hits: %w", err)
		}
	}
	byAsset := map[glasshouse.AssetID][]*cand{}
	for _, c := range best {
		byAsset[c.asset] = append(byAsset[c.asset], c)
	}
	out := map[glasshouse.AssetID][]search.Hit{}
	snipIDs := make([][]int64, len(atoms))
	for a, cs := range byAsset {
		sort.Slice(cs, func(i, j int) bool {
			if cs[i].Score != cs[j].Score {
				return cs[i].Score > cs[j].Score
			}
			if cs[i].StartMS != cs[j].StartMS {
				return cs[i].StartMS < cs[j].StartMS
			}
			return cs[i].id < cs[j].id
		})
		if len(cs) > perAsset {
			cs = cs[:perAsset]
		}
		byAsset[a] = cs
		for _, c := range cs {
			snipIDs[c.atom] = append(snipIDs[c.atom], c.id)
		}
	}
	snips := map[int64]string{}
	for ai, ids := range snipIDs {
		if len(ids) == 0 {
			continue
		}
		args := []any{matchSQL(atoms[ai].Match)}
		for _, id := range ids {
			args = append(args, id)
		}
		rows, err := x.db.QueryContext(ctx, "SELECT rowid, snippet(search_fts, 0, char(2), char(3), '…', 24) FROM search_fts WHERE search_fts MATCH ? AND rowid IN ("+placeholders(len(ids))+")", args...)
		if err != nil {
			return nil, fmt.Errorf("query snippets: %w", err)
		}
		for rows.Next() {
			var id int64
			var s string
			if err := rows.Scan(&id, &s); err != nil {
				rows.Close()
				return nil, fmt.Errorf("scan snippet: %w", err)
			}
			snips[id] = search.MarkSnippet(s, markOpen, markClose)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read snippets: %w", err)
		}
	}
	for a, cs := range byAsset {
		hs := make([]search.Hit, len(cs))
		for i, c := range cs {
			hs[i] = c.Hit
			hs[i].Snippet = snips[c.id]
		}
		out[a] = hs
	}
	return out, nil
}
