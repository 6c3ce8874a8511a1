// Package pgsearch implements search.Index on PostgreSQL with tsvector and a
// GIN index, for the scale-out backend. It honours the same query language,
// filters, grouping, cursors and hits as the embedded FTS5 index
// (search/sqlitefts), and passes the same conformance suite (indextest).
//
// Text is tokenised in Go exactly as the FTS5 unicode61 tokenizer does
// (search.Tokenize, diacritics removed) and stored as a tsvector literal with
// positions, so PostgreSQL's text-search parser and locale never change what
// a word is; queries become tsquery literals (<-> for phrases, :* for
// prefixes). Relevance is ts_rank (PostgreSQL has no BM25) in the same
// formula as the embedded index: rank × (0.25 + 0.75 × confidence) × 2 for
// an exact phrase. Snippets are cut and marked in Go.
//
// A query driven by one text condition ranks only the first DefaultBound
// matching segments in static quality order (search.QualityBucket, then
// newest), as the embedded index does, so that a word found in hundreds of
// thousands of segments costs about as much as a rare one; Total is then a
// lower bound (TotalEstimated). Other queries are evaluated exactly.
package pgsearch

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/search"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Index is a search.Index over a PostgreSQL *sql.DB (pgx stdlib driver).
type Index struct {
	db *sql.DB
	// bound is the most candidate segments a query driven by one text
	// condition ranks (see searchBounded).
	bound int
	stats termStats
}

// DefaultBound is the number of candidate segments a query ranks at most,
// as in the embedded index (sqlitefts.DefaultBound).
const DefaultBound = 500

// SetBound sets the number of candidate segments a query ranks at most
// (DefaultBound if n < 1). For tests and benchmarks.
func (x *Index) SetBound(n int) {
	if n < 1 {
		n = DefaultBound
	}
	x.bound = n
}

var _ search.Index = (*Index)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS search_seg (
	id         BIGSERIAL PRIMARY KEY,
	tenant     TEXT NOT NULL,
	asset      TEXT COLLATE "C" NOT NULL,
	collection TEXT NOT NULL,
	media_kind TEXT NOT NULL,
	kind       TEXT NOT NULL,
	source     TEXT NOT NULL,
	start_ms   BIGINT NOT NULL,
	end_ms     BIGINT NOT NULL,
	confidence DOUBLE PRECISION NOT NULL,
	created    BIGINT NOT NULL,
	thash      BIGINT NOT NULL,
	text       TEXT NOT NULL,
	tsv        TSVECTOR NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS search_seg_key ON search_seg (asset, source, kind, start_ms, end_ms, thash);
CREATE INDEX IF NOT EXISTS search_seg_tenant ON search_seg (tenant, kind, asset);
CREATE INDEX IF NOT EXISTS search_seg_tsv ON search_seg USING GIN (tsv);
ALTER TABLE search_seg ADD COLUMN IF NOT EXISTS quality SMALLINT NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS search_seg_quality ON search_seg (tenant, quality DESC, id DESC);
`

// New creates the index table in db if it does not exist.
func New(ctx context.Context, db *sql.DB) (*Index, error) {
	// CREATE ... IF NOT EXISTS races between processes starting together;
	// an advisory lock makes it one at a time.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, glasshouse.E("pgsearch.New", glasshouse.ErrUnavailable, err, "begin")
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7370656172636)`); err != nil {
		return nil, glasshouse.E("pgsearch.New", glasshouse.ErrUnavailable, err, "lock")
	}
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return nil, glasshouse.E("pgsearch.New", glasshouse.ErrUnavailable, err, "create search table")
	}
	if err := tx.Commit(); err != nil {
		return nil, glasshouse.E("pgsearch.New", glasshouse.ErrUnavailable, err, "commit")
	}
	return &Index{db: db, bound: DefaultBound}, nil
}

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

// fold removes diacritics (as FTS5 remove_diacritics does) and lower-cases.
func fold(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		out = s
	}
	return strings.ToLower(out)
}

func quoteLexeme(w string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(w, `\`, `\\`), "'", "''") + "'"
}

// tsvectorLiteral is the tsvector of text: its words with positions.
func tsvectorLiteral(text string) string {
	words := search.Tokenize(fold(text))
	var b strings.Builder
	for i, w := range words {
		if len(w) > 2000 {
			continue // PostgreSQL refuses lexemes over 2 KB
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(quoteLexeme(w))
		b.WriteString(":" + strconv.Itoa(min(i+1, 16383)))
	}
	return b.String()
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

// Upsert adds segments, or updates those that exist, in one transaction.
func (x *Index) Upsert(ctx context.Context, segs ...glasshouse.Segment) error {
	const op = "pgsearch.Upsert"
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

// insert upserts segs with one statement per 1000 (arrays unnested), so a
// bulk load is not one round trip per segment.
func insert(ctx context.Context, tx *sql.Tx, segs []glasshouse.Segment) error {
	type key struct {
		asset, source, kind string
		start, end, h       int64
	}
	// One statement must not touch a row twice: the last of duplicates wins.
	last := map[key]int{}
	for i := range segs {
		s := &segs[i]
		h := textHash(cleanText(s.Text))
		last[key{string(s.Asset), s.Source, s.Kind, s.StartMS, s.EndMS, h}] = i
	}
	idx := make([]int, 0, len(last))
	for _, i := range last {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for len(idx) > 0 {
		chunk := idx[:min(len(idx), 1000)]
		idx = idx[len(chunk):]
		n := len(chunk)
		var (
			tenant, asset, coll, mk, kind, source, text, tsv = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
			start, end, created, th                          = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
			conf                                             = make([]float64, n)
			quality                                          = make([]int64, n)
		)
		for j, i := range chunk {
			s := &segs[i]
			t := cleanText(s.Text)
			tenant[j], asset[j], coll[j], mk[j], kind[j], source[j] = string(s.Tenant), string(s.Asset), s.Collection, string(s.MediaKind), s.Kind, s.Source
			start[j], end[j], created[j], th[j], conf[j] = s.StartMS, s.EndMS, createdMS(s.Created), textHash(t), s.Confidence
			text[j], tsv[j] = t, tsvectorLiteral(t)
			quality[j] = search.QualityBucket(s.Confidence, len(search.Tokenize(t)))
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO search_seg (tenant, asset, collection, media_kind, kind, source, start_ms, end_ms, confidence, created, thash, text, tsv, quality)
			SELECT t, a, c, mk, k, src, st, en, cf, cr, th, tx, tv::tsvector, q
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::float8[], $10::bigint[], $11::bigint[], $12::text[], $13::text[], $14::smallint[])
				AS u(t, a, c, mk, k, src, st, en, cf, cr, th, tx, tv, q)
			ON CONFLICT (asset, source, kind, start_ms, end_ms, thash) DO UPDATE SET tenant = excluded.tenant, collection = excluded.collection,
				media_kind = excluded.media_kind, confidence = excluded.confidence, created = excluded.created, quality = excluded.quality`,
			tenant, asset, coll, mk, kind, source, start, end, conf, created, th, text, tsv, quality)
		if err != nil {
			return fmt.Errorf("upsert segments: %w", err)
		}
	}
	return nil
}

func cleanText(s string) string { return strings.ReplaceAll(search.CleanText(s), "\x00", " ") }

// ReplaceAsset replaces the asset's segments from source by segs.
func (x *Index) ReplaceAsset(ctx context.Context, tenant glasshouse.TenantID, asset glasshouse.AssetID, source string, segs []glasshouse.Segment) error {
	const op = "pgsearch.ReplaceAsset"
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
		err := tx.QueryRowContext(ctx, `SELECT tenant FROM search_seg WHERE asset = $1 AND tenant <> $2 LIMIT 1`, string(asset), string(tenant)).Scan(&other)
		if err == nil {
			return glasshouse.Errorf(op, glasshouse.ErrPermission, "asset %s belongs to another tenant", asset)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("check tenant: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM search_seg WHERE asset = $1 AND source = $2`, string(asset), source); err != nil {
			return fmt.Errorf("delete segments: %w", err)
		}
		return insert(ctx, tx, segs)
	})
}

// SetCollection moves the asset's segments to collection.
func (x *Index) SetCollection(ctx context.Context, tenant glasshouse.TenantID, asset glasshouse.AssetID, collection string) error {
	const op = "pgsearch.SetCollection"
	return x.tx(ctx, op, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE search_seg SET collection = $1 WHERE tenant = $2 AND asset = $3`, collection, string(tenant), string(asset))
		return err
	})
}

// Delete removes every segment of the assets.
func (x *Index) Delete(ctx context.Context, assets ...glasshouse.AssetID) error {
	const op = "pgsearch.Delete"
	if len(assets) == 0 {
		return nil
	}
	ids := make([]string, len(assets))
	for i, a := range assets {
		ids[i] = string(a)
	}
	return x.tx(ctx, op, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM search_seg WHERE asset = ANY($1)`, ids)
		return err
	})
}

// ---------------------------------------------------------------------------
// Search

// Search runs q; see package search for the language and the ranking.
func (x *Index) Search(ctx context.Context, q search.Query) (*search.Hits, error) {
	const op = "pgsearch.Search"
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
	// Every statement of a search is planned for its parameter values: a
	// generic plan (what a cached prepared statement gets after five runs)
	// cannot know whether a word is in three segments or three hundred
	// thousand, and picks a plan that is slow for one of them.
	tx, err := x.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, glasshouse.E(op, glasshouse.ErrUnavailable, err, "begin")
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SET LOCAL plan_cache_mode = force_custom_plan"); err != nil {
		return nil, glasshouse.E(op, glasshouse.ErrUnavailable, err, "set plan cache mode")
	}
	b.tx = tx
	if drv := search.Driver(plan.Root); drv != nil {
		out, err := x.searchBounded(ctx, q, b, plan.Root, drv, cur)
		if err != nil {
			return nil, glasshouse.E(op, glasshouse.ErrUnavailable, err, "search")
		}
		return out, nil
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

type builder struct {
	// tx is the search's read-only transaction: one snapshot for every
	// statement, planned for its own parameters (see Search).
	tx     *sql.Tx
	tenant string
	filter search.Filter
	alias  int
}

func (b *builder) as() string {
	b.alias++
	return " AS t" + strconv.Itoa(b.alias)
}

func (b *builder) global(args *[]any) string {
	*args = append(*args, b.tenant)
	return "s.tenant = ?" + filterSQL(b.filter, args)
}

func filterSQL(f search.Filter, args *[]any) string {
	var sb strings.Builder
	if f.Collections != nil {
		sb.WriteString(" AND s.collection = ANY(?)")
		*args = append(*args, slices.Clone(f.Collections))
	}
	if f.Types != nil {
		sb.WriteString(" AND s.media_kind = ANY(?)")
		ts := make([]string, len(f.Types))
		for i, t := range f.Types {
			ts[i] = string(t)
		}
		*args = append(*args, ts)
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

// tsquery compiles a text condition to a tsquery literal.
func tsquery(m *search.Match) string {
	switch m.Op {
	case search.MatchWords:
		parts := make([]string, 0, len(m.Words))
		for _, w := range m.Words {
			for _, fw := range search.Tokenize(fold(w)) {
				parts = append(parts, quoteLexeme(fw))
			}
		}
		if len(parts) == 0 {
			return "''"
		}
		if m.Prefix {
			parts[len(parts)-1] += ":*"
		}
		if len(parts) == 1 {
			return parts[0]
		}
		return "(" + strings.Join(parts, " <-> ") + ")"
	case search.MatchAnd, search.MatchOr:
		op := " & "
		if m.Op == search.MatchOr {
			op = " | "
		}
		parts := make([]string, len(m.Kids))
		for i, k := range m.Kids {
			parts[i] = tsquery(k)
		}
		return "(" + strings.Join(parts, op) + ")"
	}
	return "''"
}

func (b *builder) atomWhere(a *search.Atom, args *[]any) string {
	var sb strings.Builder
	if a.Match != nil {
		sb.WriteString("s.tsv @@ ?::tsquery AND ")
		*args = append(*args, tsquery(a.Match))
	}
	sb.WriteString(b.global(args))
	if a.Kinds != nil {
		sb.WriteString(" AND s.kind = ANY(?)")
		*args = append(*args, slices.Clone(a.Kinds))
	}
	if a.Exact != "" && a.Match != nil {
		sb.WriteString(" AND lower(s.text) = ?")
		*args = append(*args, a.Exact)
	}
	if a.Filter != nil {
		sb.WriteString(filterSQL(*a.Filter, args))
	}
	return sb.String()
}

func (b *builder) setSQL(n *search.Node, args *[]any) string {
	switch n.Op {
	case search.OpAtom:
		return "SELECT s.asset AS asset FROM search_seg s WHERE " + b.atomWhere(n.Atom, args)
	case search.OpOr:
		parts := make([]string, len(n.Kids))
		for i, k := range n.Kids {
			parts[i] = "SELECT asset FROM (" + b.setSQL(k, args) + ")" + b.as()
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
		parts = append(parts, op+"SELECT asset FROM ("+b.setSQL(k, args)+")"+b.as())
	}
	for _, k := range n.Not {
		parts = append(parts, " EXCEPT SELECT asset FROM ("+b.setSQL(k, args)+")"+b.as())
	}
	return strings.Join(parts, "")
}

// scoreSQL is the segment score; see package search. Segments matched
// without text (label: alone) rank by confidence.
func scoreSQL(a *search.Atom, args *[]any) string {
	rank := "1.0"
	if a.Match != nil {
		rank = "ts_rank(s.tsv, ?::tsquery)"
		*args = append(*args, rankQuery(a.Match))
	}
	s := "(" + rank + " * (0.25 + 0.75 * s.confidence))"
	if a.Phrase != nil {
		s += " * (CASE WHEN s.tsv @@ ?::tsquery THEN 2.0 ELSE 1.0 END)"
		*args = append(*args, tsquery(&search.Match{Op: search.MatchWords, Words: a.Phrase}))
	}
	return "(" + s + ")::float8"
}

func (b *builder) groupsSQL(plan *search.Plan, args *[]any) string {
	root := plan.Root
	atoms := search.HitAtoms(root)
	if root != nil && root.Op == search.OpAtom && root.Atom.Hits {
		a := root.Atom
		score := scoreSQL(a, args)
		where := b.atomWhere(a, args)
		return "SELECT s.asset AS asset, max(" + score + ") AS best FROM search_seg s WHERE " + where + " GROUP BY s.asset"
	}
	var set string
	if root == nil {
		set = "SELECT s.asset AS asset FROM search_seg s WHERE " + b.global(args)
	} else {
		set = b.setSQL(root, args)
	}
	parts := []string{"SELECT asset, 0.0::float8 AS score FROM m"}
	for _, a := range atoms {
		score := scoreSQL(a, args)
		where := b.atomWhere(a, args)
		parts = append(parts, "SELECT s.asset AS asset, "+score+" AS score FROM search_seg s WHERE "+where+" AND s.asset IN (SELECT asset FROM m)")
	}
	return "WITH m AS MATERIALIZED (" + set + ") SELECT asset, max(score) AS best FROM (" + strings.Join(parts, " UNION ALL ") + ")" + b.as() + " GROUP BY asset"
}

func (x *Index) rank(ctx context.Context, b *builder, plan *search.Plan, cur *search.Cursor, limit int) ([]search.AssetHits, int, error) {
	var args []any
	g := b.groupsSQL(plan, &args)
	q := "WITH g AS MATERIALIZED (" + g + ") SELECT p.asset, p.best, p.total, " +
		"(SELECT collection FROM search_seg WHERE asset = p.asset LIMIT 1), (SELECT media_kind FROM search_seg WHERE asset = p.asset LIMIT 1) " +
		"FROM (SELECT g.asset, g.best, (SELECT count(*) FROM g) AS total FROM g"
	if cur != nil {
		q += " WHERE g.best < ? OR (g.best = ? AND g.asset < ?)"
		args = append(args, cur.Score, cur.Score, string(cur.Asset))
	}
	q += " ORDER BY g.best DESC, g.asset DESC LIMIT ?) p ORDER BY p.best DESC, p.asset DESC"
	args = append(args, limit)
	rows, err := b.tx.QueryContext(ctx, rebind(q), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("query groups: %w", err)
	}
	defer rows.Close()
	var out []search.AssetHits
	total := 0
	for rows.Next() {
		var g search.AssetHits
		var asset, coll, kind string
		if err := rows.Scan(&asset, &g.Score, &total, &coll, &kind); err != nil {
			return nil, 0, fmt.Errorf("scan group: %w", err)
		}
		g.Asset = glasshouse.AssetID(asset)
		g.Collection, g.MediaKind = coll, glasshouse.MediaKind(kind)
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("read groups: %w", err)
	}
	if len(out) == 0 && cur != nil {
		var cargs []any
		cq := "SELECT count(*) FROM (" + b.groupsSQL(plan, &cargs) + ") AS c"
		if err := b.tx.QueryRowContext(ctx, rebind(cq), cargs...).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("count groups: %w", err)
		}
	}
	return out, total, nil
}

func (x *Index) hits(ctx context.Context, b *builder, plan *search.Plan, groups []search.AssetHits, perAsset int) (map[glasshouse.AssetID][]search.Hit, error) {
	atoms := search.HitAtoms(plan.Root)
	if len(atoms) == 0 {
		return nil, nil
	}
	assets := make([]string, len(groups))
	for i, g := range groups {
		assets[i] = string(g.Asset)
	}
	type cand struct {
		search.Hit
		id    int64
		asset glasshouse.AssetID
		atom  int
		text  string
	}
	best := map[int64]*cand{}
	for ai, a := range atoms {
		var args []any
		score := scoreSQL(a, &args)
		where := b.atomWhere(a, &args)
		args = append(args, assets)
		q := "SELECT s.id, s.asset, s.kind, s.source, s.start_ms, s.end_ms, s.confidence, " + score + ", s.text" +
			" FROM search_seg s WHERE " + where + " AND s.asset = ANY(?)"
		rows, err := b.tx.QueryContext(ctx, rebind(q), args...)
		if err != nil {
			return nil, fmt.Errorf("query hits: %w", err)
		}
		for rows.Next() {
			var c cand
			if err := rows.Scan(&c.id, &c.asset, &c.Kind, &c.Source, &c.StartMS, &c.EndMS, &c.Confidence, &c.Score, &c.text); err != nil {
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
		hs := make([]search.Hit, len(cs))
		for i, c := range cs {
			hs[i] = c.Hit
			hs[i].Snippet = search.MarkSnippet(snippet(c.text, atoms[c.atom].Match, 24), markOpen, markClose)
		}
		out[a] = hs
	}
	return out, nil
}

// rankQuery is the tsquery relevance is computed with: every term of m
// joined by OR, so that ts_rank weighs term frequencies like BM25 does and
// not the proximity of the words (the phrase bonus is separate).
func rankQuery(m *search.Match) string {
	words := map[string]bool{}
	var prefixes []string
	terms(m, words, &prefixes)
	var parts []string
	for w := range words {
		parts = append(parts, quoteLexeme(w))
	}
	for _, p := range prefixes {
		parts = append(parts, quoteLexeme(p)+":*")
	}
	if len(parts) == 0 {
		return tsquery(m)
	}
	slices.Sort(parts)
	return strings.Join(parts, " | ")
}

// terms returns the words (and prefixes) of m, folded.
func terms(m *search.Match, words map[string]bool, prefixes *[]string) {
	if m == nil {
		return
	}
	if m.Op == search.MatchWords {
		for i, w := range m.Words {
			for _, fw := range search.Tokenize(fold(w)) {
				if m.Prefix && i == len(m.Words)-1 {
					*prefixes = append(*prefixes, fw)
				} else {
					words[fw] = true
				}
			}
		}
		return
	}
	for _, k := range m.Kids {
		terms(k, words, prefixes)
	}
}

type span struct{ start, end int }

// wordSpans are the byte ranges of text's words, as search.Tokenize splits.
func wordSpans(s string) []span {
	var out []span
	start := -1
	for i, r := range s {
		in := unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Mn, r) && start >= 0
		switch {
		case in && start < 0:
			start = i
		case !in && start >= 0:
			out = append(out, span{start, i})
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, span{start, len(s)})
	}
	return out
}

// snippet marks the words of text that m matches and, for long text, cuts
// a window of about n words around the densest matches, with "…" where
// text was cut (as FTS5 snippet() does).
func snippet(text string, m *search.Match, n int) string {
	words := map[string]bool{}
	var prefixes []string
	terms(m, words, &prefixes)
	spans := wordSpans(text)
	match := make([]bool, len(spans))
	for i, sp := range spans {
		w := fold(text[sp.start:sp.end])
		if words[w] {
			match[i] = true
			continue
		}
		for _, p := range prefixes {
			if strings.HasPrefix(w, p) {
				match[i] = true
				break
			}
		}
	}
	from, to := 0, len(spans)
	if len(spans) > n {
		bestStart, bestCount := 0, -1
		for s := 0; s+n <= len(spans); s++ {
			c := 0
			for i := s; i < s+n; i++ {
				if match[i] {
					c++
				}
			}
			if c > bestCount {
				bestStart, bestCount = s, c
			}
		}
		from, to = bestStart, bestStart+n
	}
	var b strings.Builder
	lo, hi := 0, len(text)
	if from > 0 {
		lo = spans[from].start
		b.WriteString("…")
	}
	if to < len(spans) {
		hi = spans[to-1].end
	}
	pos := lo
	for i := from; i < to; i++ {
		sp := spans[i]
		if !match[i] {
			continue
		}
		b.WriteString(text[pos:sp.start])
		b.WriteString(markOpen + text[sp.start:sp.end] + markClose)
		pos = sp.end
	}
	b.WriteString(text[pos:hi])
	if to < len(spans) {
		b.WriteString("…")
	}
	out := b.String()
	if !utf8.ValidString(out) {
		out = strings.ToValidUTF8(out, "\uFFFD")
	}
	return out
}

var rebinds sync.Map

// rebind turns ? placeholders into $1, $2, ...
func rebind(q string) string {
	if v, ok := rebinds.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	rebinds.Store(q, b.String())
	return b.String()
}
