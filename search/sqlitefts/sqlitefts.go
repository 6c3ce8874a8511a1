// Package sqlitefts implements search.Index with SQLite FTS5, in the same
// database file as the catalog.
//
// Tables (created by New if missing):
//
//	search_seg   one row per segment (index search_seg_label finds the
//	             assets with an exact label): tenant, asset, collection, media_kind,
//	             kind, source, start_ms, end_ms, confidence, created (Unix
//	             ms), a hash of the text (part of the segment's identity),
//	             the text, and tags (tokens naming the tenant, collection,
//	             segment kind and media kind)
//	search_fts   FTS5 index (unicode61, diacritics removed, prefix indexes of
//	             2, 3 and 4 characters) of text and tags, external content
//	             search_seg: rowid = search_seg.id
//	search_term  documents per term, for BM25's inverse document frequency
//	search_stat  segments, tokens (average length) and the id sequence
//
// A segment's id is its static quality bucket (confidence and length, the
// parts of the score that do not depend on the query) shifted left by 40
// bits, or'ed with a sequence number. FTS5 returns matches in id order, so
// reading matches in descending id order and stopping after a bound yields
// the most promising candidates first without scoring every match; see
// Search.
//
// Every query restricts search_seg.tenant (and the allowed collections) in
// SQL; user text reaches FTS5 MATCH only as quoted tokens of letters and
// digits, restricted to the text column.
package sqlitefts

import (
	"context"
	"database/sql"
	"encoding/hex"
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
	// bound is the most candidate segments a query ranks (see Search).
	bound int
}

var _ search.Index = (*Index)(nil)

// DefaultBound is the number of candidate segments a query ranks at most.
const DefaultBound = 500

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
	thash      INTEGER NOT NULL,
	text       TEXT NOT NULL,
	tags       TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS search_seg_key ON search_seg(asset, source, kind, start_ms, end_ms, thash);
CREATE INDEX IF NOT EXISTS search_seg_tenant ON search_seg(tenant, kind, asset);
CREATE INDEX IF NOT EXISTS search_seg_label ON search_seg(tenant, lower(text), asset, collection, media_kind, created, kind) WHERE kind = 'label';
CREATE TABLE IF NOT EXISTS search_term (term TEXT PRIMARY KEY, docs INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS search_stat (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	docs   INTEGER NOT NULL,
	tokens INTEGER NOT NULL,
	seq    INTEGER NOT NULL
);
INSERT OR IGNORE INTO search_stat(id, docs, tokens, seq) VALUES (1, 0, 0, 0);
CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(text, tags, content='search_seg', content_rowid='id',
	tokenize='unicode61 remove_diacritics 2', prefix='2 3 4');
`

// New creates the index tables in db if they do not exist. An index of an
// earlier layout (text held by FTS5, no tags) is converted in place.
func New(ctx context.Context, db *sql.DB) (*Index, error) {
	const op = "sqlitefts.New"
	if err := migrate(ctx, db); err != nil {
		return nil, glasshouse.E(op, glasshouse.ErrUnavailable, err, "convert the search index")
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return nil, glasshouse.E(op, glasshouse.ErrUnavailable, err, "create search tables")
	}
	return &Index{db: db, bound: DefaultBound}, nil
}

// SetBound sets the number of candidate segments a query ranks at most
// (DefaultBound if n < 1). For tests and benchmarks.
func (x *Index) SetBound(n int) {
	if n < 1 {
		n = DefaultBound
	}
	x.bound = n
}

// migrate converts an index of the first layout (search_fts holding the
// text, rowid = search_seg.id) to the current one, in one transaction.
func migrate(ctx context.Context, db *sql.DB) error {
	var ddl string
	err := db.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE name = 'search_fts'`).Scan(&ddl)
	if errors.Is(err, sql.ErrNoRows) || err == nil && strings.Contains(ddl, "tags") {
		return nil
	} else if err != nil {
		return fmt.Errorf("read schema: %w", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	for _, q := range []string{
		`ALTER TABLE search_seg RENAME TO search_seg_v1`,
		`ALTER TABLE search_fts RENAME TO search_fts_v1`,
		`DROP INDEX IF EXISTS search_seg_key`,
		`DROP INDEX IF EXISTS search_seg_tenant`,
		schema,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%.40s: %w", q, err)
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT s.tenant, s.asset, s.collection, s.media_kind, s.kind, s.source, s.start_ms, s.end_ms, s.confidence, s.created, f.text
		FROM search_seg_v1 s JOIN search_fts_v1 f ON f.rowid = s.id ORDER BY s.id`)
	if err != nil {
		return fmt.Errorf("read old index: %w", err)
	}
	var segs []glasshouse.Segment
	for rows.Next() {
		var (
			s       glasshouse.Segment
			created int64
		)
		if err := rows.Scan(&s.Tenant, &s.Asset, &s.Collection, &s.MediaKind, &s.Kind, &s.Source, &s.StartMS, &s.EndMS, &s.Confidence, &created, &s.Text); err != nil {
			rows.Close()
			return fmt.Errorf("read old index: %w", err)
		}
		if created != 0 {
			s.Created = time.UnixMilli(created).UTC()
		}
		segs = append(segs, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read old index: %w", err)
	}
	if err := insert(ctx, tx, segs); err != nil {
		return err
	}
	for _, q := range []string{`DROP TABLE search_fts_v1`, `DROP TABLE search_seg_v1`} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return tx.Commit()
}

// Markers FTS5 puts around matches; segment text never holds them (see
// search.CleanText).
const markOpen, markClose = "\x02", "\x03"

func textHash(s string) int64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return int64(h.Sum64())
}

func tagHash(s string) string {
	h := fnv.New64a()
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

// Tag tokens, in the tags column (letters and digits only, so that the
// tokenizer keeps each whole).
func tenantTag(t string) string     { return "tn" + tagHash(t) }
func collectionTag(c string) string { return "cl" + tagHash(c) }
func kindTag(k string) string       { return "k" + tagHash(k) }
func mediaTag(m string) string      { return "m" + tagHash(m) }

func tags(s *glasshouse.Segment) string {
	return tenantTag(string(s.Tenant)) + " " + collectionTag(s.Collection) + " " + kindTag(s.Kind) + " " + mediaTag(string(s.MediaKind))
}

const bucketShift = 40

// bucket is a segment's static quality class (search.QualityBucket).
func bucket(confidence float64, tokens int) int64 { return search.QualityBucket(confidence, tokens) }

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

// stats accumulates the changes to search_term and search_stat of one
// transaction.
type stats struct {
	terms          map[string]int
	docs, tokens   int64
	seq, nextSeq   int64
	seqRead, dirty bool
}

func newStats() *stats { return &stats{terms: map[string]int{}} }

// count adds (sign 1) or removes (sign -1) the terms and tags of one
// segment and returns the length of its text in tokens. Tag tokens are
// counted like terms, so that a query knows how selective a tag is.
func (st *stats) count(text, tags string, sign int) int {
	for _, t := range strings.Fields(tags) {
		st.terms[t] += sign
	}
	toks := foldAll(search.Tokenize(text))
	seen := make(map[string]bool, len(toks))
	for _, t := range toks {
		if !seen[t] {
			seen[t] = true
			st.terms[t] += sign
		}
	}
	st.docs += int64(sign)
	st.tokens += int64(sign * len(toks))
	st.dirty = true
	return len(toks)
}

func (st *stats) id(ctx context.Context, tx *sql.Tx, b int64) (int64, error) {
	if !st.seqRead {
		if err := tx.QueryRowContext(ctx, `SELECT seq FROM search_stat WHERE id = 1`).Scan(&st.seq); err != nil {
			return 0, fmt.Errorf("read id sequence: %w", err)
		}
		st.nextSeq = st.seq
		st.seqRead = true
	}
	st.nextSeq++
	st.dirty = true
	return b<<bucketShift | st.nextSeq, nil
}

func (st *stats) save(ctx context.Context, tx *sql.Tx) error {
	if !st.dirty {
		return nil
	}
	up, err := tx.PrepareContext(ctx, `INSERT INTO search_term(term, docs) VALUES (?, ?) ON CONFLICT(term) DO UPDATE SET docs = docs + excluded.docs`)
	if err != nil {
		return fmt.Errorf("prepare term counts: %w", err)
	}
	defer up.Close()
	var gone []string
	for t, d := range st.terms {
		if d == 0 {
			continue
		}
		if _, err := up.ExecContext(ctx, t, d); err != nil {
			return fmt.Errorf("update term counts: %w", err)
		}
		if d < 0 {
			gone = append(gone, t)
		}
	}
	for _, t := range gone {
		if _, err := tx.ExecContext(ctx, `DELETE FROM search_term WHERE term = ? AND docs <= 0`, t); err != nil {
			return fmt.Errorf("update term counts: %w", err)
		}
	}
	q := `UPDATE search_stat SET docs = docs + ?, tokens = tokens + ?`
	args := []any{st.docs, st.tokens}
	if st.seqRead {
		q += `, seq = ?`
		args = append(args, st.nextSeq)
	}
	if _, err := tx.ExecContext(ctx, q+` WHERE id = 1`, args...); err != nil {
		return fmt.Errorf("update index statistics: %w", err)
	}
	return nil
}

// writer holds the prepared statements of one transaction's changes.
type writer struct {
	st                        *stats
	find, ins, ftsIns, ftsDel *sql.Stmt
	delSeg                    *sql.Stmt
	closers                   []*sql.Stmt
}

func newWriter(ctx context.Context, tx *sql.Tx) (*writer, error) {
	w := &writer{st: newStats()}
	for _, p := range []struct {
		s **sql.Stmt
		q string
	}{
		{&w.find, `SELECT id, text, tags FROM search_seg WHERE asset=? AND source=? AND kind=? AND start_ms=? AND end_ms=? AND thash=?`},
		{&w.ins, `INSERT INTO search_seg(id, tenant, asset, collection, media_kind, kind, source, start_ms, end_ms, confidence, created, thash, text, tags) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`},
		{&w.ftsIns, `INSERT INTO search_fts(rowid, text, tags) VALUES (?, ?, ?)`},
		{&w.ftsDel, `INSERT INTO search_fts(search_fts, rowid, text, tags) VALUES ('delete', ?, ?, ?)`},
		{&w.delSeg, `DELETE FROM search_seg WHERE id = ?`},
	} {
		st, err := tx.PrepareContext(ctx, p.q)
		if err != nil {
			w.close()
			return nil, fmt.Errorf("prepare: %w", err)
		}
		*p.s = st
		w.closers = append(w.closers, st)
	}
	return w, nil
}

func (w *writer) close() {
	for _, s := range w.closers {
		s.Close()
	}
}

// drop removes one segment (its row and its index entries).
func (w *writer) drop(ctx context.Context, id int64, text, tags string) error {
	if _, err := w.ftsDel.ExecContext(ctx, id, text, tags); err != nil {
		return fmt.Errorf("delete segment text: %w", err)
	}
	if _, err := w.delSeg.ExecContext(ctx, id); err != nil {
		return fmt.Errorf("delete segment: %w", err)
	}
	return nil
}

func insert(ctx context.Context, tx *sql.Tx, segs []glasshouse.Segment) error {
	w, err := newWriter(ctx, tx)
	if err != nil {
		return err
	}
	defer w.close()
	for i := range segs {
		s := &segs[i]
		text := search.CleanText(s.Text)
		h := textHash(text)
		tg := tags(s)
		var (
			id               int64
			oldText, oldTags string
		)
		err := w.find.QueryRowContext(ctx, string(s.Asset), s.Source, s.Kind, s.StartMS, s.EndMS, h).Scan(&id, &oldText, &oldTags)
		ntok := 0
		switch {
		case err == nil:
			ntok = len(search.Tokenize(text))
			if id>>bucketShift == bucket(s.Confidence, ntok) && oldTags == tg {
				if _, err := tx.ExecContext(ctx, `UPDATE search_seg SET confidence=?, created=? WHERE id=?`, s.Confidence, createdMS(s.Created), id); err != nil {
					return fmt.Errorf("update segment: %w", err)
				}
				continue
			}
			// Another quality bucket or other tags: a new row (the
			// term counts do not change, the tag counts may).
			for _, t := range strings.Fields(oldTags) {
				w.st.terms[t]--
			}
			for _, t := range strings.Fields(tg) {
				w.st.terms[t]++
			}
			w.st.dirty = true
			if err := w.drop(ctx, id, oldText, oldTags); err != nil {
				return err
			}
		case errors.Is(err, sql.ErrNoRows):
			ntok = w.st.count(text, tg, 1)
		default:
			return fmt.Errorf("find segment: %w", err)
		}
		id, err = w.st.id(ctx, tx, bucket(s.Confidence, ntok))
		if err != nil {
			return err
		}
		if _, err := w.ins.ExecContext(ctx, id, string(s.Tenant), string(s.Asset), s.Collection, string(s.MediaKind), s.Kind, s.Source, s.StartMS, s.EndMS, s.Confidence, createdMS(s.Created), h, text, tg); err != nil {
			return fmt.Errorf("insert segment: %w", err)
		}
		if _, err := w.ftsIns.ExecContext(ctx, id, text, tg); err != nil {
			return fmt.Errorf("insert segment text: %w", err)
		}
	}
	return w.st.save(ctx, tx)
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

// deleteWhere removes the segments of search_seg matching where.
func deleteWhere(ctx context.Context, tx *sql.Tx, where string, args ...any) error {
	w, err := newWriter(ctx, tx)
	if err != nil {
		return err
	}
	defer w.close()
	type old struct {
		id         int64
		text, tags string
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, text, tags FROM search_seg WHERE `+where, args...)
	if err != nil {
		return fmt.Errorf("find segments: %w", err)
	}
	var olds []old
	for rows.Next() {
		var o old
		if err := rows.Scan(&o.id, &o.text, &o.tags); err != nil {
			rows.Close()
			return fmt.Errorf("find segments: %w", err)
		}
		olds = append(olds, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find segments: %w", err)
	}
	for _, o := range olds {
		w.st.count(o.text, o.tags, -1)
		if err := w.drop(ctx, o.id, o.text, o.tags); err != nil {
			return err
		}
	}
	return w.st.save(ctx, tx)
}

// SetCollection moves the asset's segments to collection.
func (x *Index) SetCollection(ctx context.Context, tenant glasshouse.TenantID, asset glasshouse.AssetID, collection string) error {
	const op = "sqlitefts.SetCollection"
	return x.tx(ctx, op, func(tx *sql.Tx) error {
		w, err := newWriter(ctx, tx)
		if err != nil {
			return err
		}
		defer w.close()
		rows, err := tx.QueryContext(ctx, `SELECT id, tenant, kind, media_kind, text, tags FROM search_seg WHERE tenant=? AND asset=?`, string(tenant), string(asset))
		if err != nil {
			return fmt.Errorf("find segments: %w", err)
		}
		type row struct {
			id                              int64
			tenant, kind, media, text, tags string
		}
		var rs []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.tenant, &r.kind, &r.media, &r.text, &r.tags); err != nil {
				rows.Close()
				return fmt.Errorf("find segments: %w", err)
			}
			rs = append(rs, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("find segments: %w", err)
		}
		for _, r := range rs {
			tg := tags(&glasshouse.Segment{Tenant: glasshouse.TenantID(r.tenant), Collection: collection, Kind: r.kind, MediaKind: glasshouse.MediaKind(r.media)})
			for _, t := range strings.Fields(r.tags) {
				w.st.terms[t]--
			}
			for _, t := range strings.Fields(tg) {
				w.st.terms[t]++
			}
			w.st.dirty = true
			if _, err := w.ftsDel.ExecContext(ctx, r.id, r.text, r.tags); err != nil {
				return fmt.Errorf("delete segment text: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE search_seg SET collection=?, tags=? WHERE id=?`, collection, tg, r.id); err != nil {
				return fmt.Errorf("move segment: %w", err)
			}
			if _, err := w.ftsIns.ExecContext(ctx, r.id, r.text, tg); err != nil {
				return fmt.Errorf("insert segment text: %w", err)
			}
		}
		return w.st.save(ctx, tx)
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
	if err := b.loadTags(ctx, x.db); err != nil {
		return nil, glasshouse.E(op, glasshouse.ErrUnavailable, err, "")
	}
	if drv := search.Driver(plan.Root); drv != nil {
		out, err := x.searchBounded(ctx, q, b, plan.Root, drv, cur)
		if err != nil {
			return nil, glasshouse.E(op, glasshouse.ErrUnavailable, err, "")
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

// builder accumulates SQL and its arguments.
type builder struct {
	tenant string
	filter search.Filter
	// docs is the number of segments, tagDocs the segments per tag token.
	docs    int64
	tagDocs map[string]int64
}

// loadTags reads the counts of the tags a query may restrict by.
func (b *builder) loadTags(ctx context.Context, db *sql.DB) error {
	b.tagDocs = map[string]int64{}
	if err := db.QueryRowContext(ctx, `SELECT docs FROM search_stat WHERE id = 1`).Scan(&b.docs); err != nil {
		return fmt.Errorf("read index statistics: %w", err)
	}
	ts := []any{tenantTag(b.tenant)}
	for _, k := range []string{glasshouse.SegSpeech, glasshouse.SegText, glasshouse.SegLabel, glasshouse.SegKeyword, glasshouse.SegName, glasshouse.SegNote} {
		ts = append(ts, kindTag(k))
	}
	for _, c := range b.filter.Collections {
		ts = append(ts, collectionTag(c))
	}
	for _, t := range b.filter.Types {
		ts = append(ts, mediaTag(string(t)))
	}
	rows, err := db.QueryContext(ctx, `SELECT term, docs FROM search_term WHERE term IN (`+placeholders(len(ts))+`)`, ts...)
	if err != nil {
		return fmt.Errorf("read tag counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t string
		var n int64
		if err := rows.Scan(&t, &n); err != nil {
			return fmt.Errorf("read tag counts: %w", err)
		}
		b.tagDocs[t] = n
	}
	return rows.Err()
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

// textMatch is the FTS5 expression of m on the text column.
func textMatch(m *search.Match) string {
	return "text : (" + matchSQL(m) + ")"
}

// A tag restricts a MATCH when at most 1/selectiveTag of the segments
// have it.
const selectiveTag = 4

// maxTagAlternatives is the most alternative collections a MATCH names;
// more are checked in SQL only.
const maxTagAlternatives = 8

// ftsMatch is the FTS5 expression of an atom with a text condition: the
// text, and the tags of the tenant, the segment kinds and the query's
// collections and media kinds, so that FTS5 yields only rows that can
// qualify (SQL checks the same conditions on search_seg again).
func (b *builder) ftsMatch(a *search.Atom) string {
	var sb strings.Builder
	sb.WriteString(textMatch(a.Match))
	alt := func(tag func(string) string, vals []string) {
		if len(vals) == 0 || len(vals) > maxTagAlternatives {
			return
		}
		parts := make([]string, len(vals))
		var n int64
		for i, v := range vals {
			parts[i] = `"` + tag(v) + `"`
			n += b.tagDocs[parts[i][1:len(parts[i])-1]]
		}
		if n*selectiveTag > b.docs {
			// Intersecting with a tag most segments have costs FTS5
			// more than the SQL check.
			return
		}
		sb.WriteString(" AND tags : (" + strings.Join(parts, " OR ") + ")")
	}
	alt(tenantTag, []string{b.tenant})
	alt(kindTag, a.Kinds)
	alt(collectionTag, b.filter.Collections)
	types := make([]string, len(b.filter.Types))
	for i, t := range b.filter.Types {
		types[i] = string(t)
	}
	alt(mediaTag, types)
	return sb.String()
}

// atomFrom returns the FROM clause and conditions of an atom's segments.
func (b *builder) atomFrom(a *search.Atom, args *[]any) (from, where string) {
	var sb strings.Builder
	if a.Match != nil {
		from = `search_fts CROSS JOIN search_seg s ON s.id = search_fts.rowid`
		sb.WriteString("search_fts MATCH ? AND ")
		*args = append(*args, b.ftsMatch(a))
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
		sb.WriteString(" AND lower(s.text) = ?")
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
		if a := n.Atom; a.Exact != "" && slices.Equal(a.Kinds, []string{glasshouse.SegLabel}) && a.Filter == nil {
			// An exact label: the assets from index search_seg_label,
			// without FTS5 (equal text implies the words match).
			where := b.global(args) + " AND s.kind = 'label' AND lower(s.text) = ?"
			*args = append(*args, a.Exact)
			return "SELECT s.asset AS asset FROM search_seg s WHERE " + where
		}
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

// scoreSQL is the segment score; see package search.
func scoreSQL(a *search.Atom, args *[]any) string {
	s := "(-bm25(search_fts)) * (0.25 + 0.75 * s.confidence)"
	if a.Phrase != nil {
		s += " * (CASE WHEN s.id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?) THEN 2.0 ELSE 1.0 END)"
		*args = append(*args, textMatch(&search.Match{Op: search.MatchWords, Words: a.Phrase}))
	}
	return s
}

// groupsSQL returns a query of (asset, best) for every matching asset.
func (b *builder) groupsSQL(plan *search.Plan, args *[]any) string {
	root := plan.Root
	atoms := search.HitAtoms(root)
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
	atoms := search.HitAtoms(plan.Root)
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
		if err := x.snippets(ctx, atoms[ai].Match, ids, snips); err != nil {
			return nil, err
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

// snippets adds the snippets of segments ids (matches of m) to snips.
func (x *Index) snippets(ctx context.Context, m *search.Match, ids []int64, snips map[int64]string) error {
	args := []any{textMatch(m)}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := x.db.QueryContext(ctx, "SELECT rowid, snippet(search_fts, 0, char(2), char(3), '…', 24) FROM search_fts WHERE search_fts MATCH ? AND rowid IN ("+placeholders(len(ids))+")", args...)
	if err != nil {
		return fmt.Errorf("query snippets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var s string
		if err := rows.Scan(&id, &s); err != nil {
			return fmt.Errorf("scan snippet: %w", err)
		}
		snips[id] = search.MarkSnippet(s, markOpen, markClose)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read snippets: %w", err)
	}
	return nil
}
