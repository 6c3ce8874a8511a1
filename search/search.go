// Package search defines glasshouse's search: the query language a person
// types, the Index interface every search backend implements, the
// backend-neutral query plan, and the conversion of analyzer insights into
// time-coded index segments.
//
// # Query language
//
//	fire truck            both words, in the same segment (implicit AND)
//	"fire truck"          exact phrase
//	evacu*                prefix
//	fire OR flood         either (OR binds weaker than AND)
//	-smoke, NOT smoke     the asset has no matching segment
//	(fire OR flood) city  grouping
//	in:speech fire        fire in a transcript segment (also in:text for OCR,
//	                      in:label, in:keyword, in:name, in:note; in:speech,text
//	                      for either)
//	label:dog             the asset has the label "dog" (exact, case-insensitive;
//	                      label:"traffic light", label:tra* for a prefix)
//	collection:x          asset is in collection x
//	type:video            media kind (video, audio, image; type:audio,video)
//	after:2025-07-01      asset created on or after that day (UTC)
//	before:2025-08-01     asset created before that day (UTC)
//
// Keywords AND, OR and NOT are recognised in upper case only; "or" is a word.
// Text terms of one AND group that share a scope must match in one segment;
// different conditions (label:person AND in:text evacuation) may be met by
// different segments of the same asset. Repeated in:, type: and collection:
// filters in one AND group are alternatives. The hits shown for an asset are
// the segments that matched the text terms (or, for a query without text
// terms, the matching label segments).
//
// # Ranking
//
// Each matching segment gets
//
//	score = bm25 × (0.25 + 0.75 × confidence) × (2 if phrase else 1)
//
// where bm25 is the (positive) BM25 relevance of the segment's text for the
// query, confidence is the analyzer's confidence in 0..1, and "phrase" is
// true when the words of an unquoted multi-word query occur in the segment as
// an exact phrase, in order. An asset's score is the best score of its hits.
// Assets are ordered by score, then by asset ID descending (newest first for
// UUIDv7 IDs), and paged with an opaque cursor.
//
// A backend may rank a bounded set of candidate segments instead of every
// match, to keep the time of a query with very many matches bounded: it
// then takes the candidates most likely to score best and sets
// Hits.TotalEstimated, Total being the number of asset groups among the
// candidates (a lower bound). sqlitefts does so beyond
// sqlitefts.DefaultBound matching segments.
//
// # Snippets
//
// Hit.Snippet is HTML-safe text: the segment text (or an excerpt of it, with
// "…" where text was cut) HTML-escaped, with matched words wrapped in
// <mark> and </mark>.
package search

import (
	"context"

	"github.com/glasshouse/glasshouse"
)

// Segment is one time-coded piece of searchable text.
type Segment = glasshouse.Segment

// Sources of the segments search writes itself.
const (
	// SourceAsset is the source of an asset's name and note segments
	// (see AssetSegments).
	SourceAsset = "asset"
)

// Limits of a query.
const (
	DefaultLimit        = 20  // asset groups per page when Query.Limit is 0
	MaxLimit            = 200 // larger limits are capped
	DefaultHitsPerAsset = 5   // hits shown per asset when Query.HitsPerAsset is 0
	MaxHitsPerAsset     = 100
)

// Query is one search request.
type Query struct {
	Tenant glasshouse.TenantID // required
	// Collections the caller may see; nil means all of the tenant's, an
	// empty non-nil slice means none (the result is empty).
	Collections []string
	Text        string // the query, in the language above
	Cursor      string // from Hits.Next of the previous page; "" for the first
	Limit       int    // asset groups per page; 0: DefaultLimit
	// HitsPerAsset caps the hits returned per asset; 0: DefaultHitsPerAsset.
	HitsPerAsset int
}

// Hit is one matching segment.
type Hit struct {
	Kind       string  `json:"kind"`   // glasshouse.Seg*
	Source     string  `json:"source"` // analyzer (or SourceAsset)
	StartMS    int64   `json:"start_ms"`
	EndMS      int64   `json:"end_ms"`
	Snippet    string  `json:"snippet"` // HTML-escaped, matches in <mark></mark>
	Confidence float64 `json:"confidence"`
	Score      float64 `json:"score"`
	// Thumb is a thumbnail of the moment (a keyframe near StartMS, or the
	// asset's thumbnail), filled by the service, not the index.
	Thumb glasshouse.Ref `json:"thumb,omitempty"`
}

// AssetHits is one asset's group of hits.
type AssetHits struct {
	Asset      glasshouse.AssetID   `json:"asset"`
	Collection string               `json:"collection"`
	MediaKind  glasshouse.MediaKind `json:"media_kind"`
	Score      float64              `json:"score"` // the best hit's score
	Hits       []Hit                `json:"hits"`  // best first
	// Name, DurationMS and Thumb describe the asset for display; filled
	// by the service, not the index.
	Name       string         `json:"name,omitempty"`
	DurationMS int64          `json:"duration_ms,omitempty"`
	Thumb      glasshouse.Ref `json:"thumb,omitempty"`
}

// Hits is one page of results, grouped by asset and ranked.
type Hits struct {
	Assets []AssetHits `json:"assets"`
	Next   string      `json:"next,omitempty"` // cursor of the next page; "" at the end
	Total  int         `json:"total"`          // matching assets in all pages
	// TotalEstimated is true when the index ranked a bounded set of
	// candidates (a query matching very many segments): Total is then a
	// lower bound ("at least Total"), and the pages hold the best of the
	// candidates. See the backend for the bound.
	TotalEstimated bool `json:"total_estimated,omitempty"`
}

// Index is a full-text index of segments.
//
// Segments are identified by (asset, source, kind, start, end, text):
// upserting the same segment again updates its confidence and asset
// attributes instead of adding a duplicate.
type Index interface {
	// Upsert adds segs (or updates them, see above), atomically.
	Upsert(ctx context.Context, segs ...Segment) error
	// ReplaceAsset replaces all segments of one source (an analyzer, or
	// SourceAsset) of an asset by segs, atomically: re-running an analyzer
	// replaces its results. Every seg must belong to tenant, asset and
	// source (empty fields are filled in). segs may be empty.
	ReplaceAsset(ctx context.Context, tenant glasshouse.TenantID, asset glasshouse.AssetID, source string, segs []Segment) error
	// SetCollection moves every segment of an asset to collection, so that
	// collection restrictions follow the catalog.
	SetCollection(ctx context.Context, tenant glasshouse.TenantID, asset glasshouse.AssetID, collection string) error
	// Delete removes every segment of the assets. Unknown assets are ignored.
	Delete(ctx context.Context, assets ...glasshouse.AssetID) error
	// Search runs q. A malformed query gives an error that is
	// glasshouse.ErrInvalid and, for syntax errors, an *ParseError
	// (errors.As).
	Search(ctx context.Context, q Query) (*Hits, error)
}
