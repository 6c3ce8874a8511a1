package search

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"math"
	"slices"
	"strings"

	"github.com/glasshouse/glasshouse"
)

// Cursor is the position after the last asset group of a page: results
// continue with the groups ordered after (Score, Asset) in (score desc,
// asset desc) order. Backends encode it with EncodeCursor.
type Cursor struct {
	Score float64
	Asset glasshouse.AssetID
}

// After reports whether a group (score, asset) comes after c in result order.
func (c Cursor) After(score float64, asset glasshouse.AssetID) bool {
	return score < c.Score || score == c.Score && asset < c.Asset
}

// queryKey fingerprints what a cursor is valid for: the tenant, the
// allowed collections and the query text.
func queryKey(q Query) []byte {
	h := sha256.New()
	h.Write([]byte(q.Tenant))
	h.Write([]byte{0})
	cs := slices.Clone(q.Collections)
	slices.Sort(cs)
	if q.Collections == nil {
		h.Write([]byte{1})
	}
	h.Write([]byte(strings.Join(cs, "\x00")))
	h.Write([]byte{0})
	h.Write([]byte(q.Text))
	return h.Sum(nil)[:8]
}

// EncodeCursor returns the opaque cursor for c within query q.
func EncodeCursor(q Query, c Cursor) string {
	b := make([]byte, 0, 17+len(c.Asset))
	b = append(b, 1) // version
	b = append(b, queryKey(q)...)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(c.Score))
	b = append(b, c.Asset...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor decodes q.Cursor. It fails with glasshouse.ErrInvalid if the
// cursor is malformed or belongs to another query.
func DecodeCursor(q Query) (Cursor, error) {
	const op = "search.DecodeCursor"
	b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
	if err != nil || len(b) < 17 || b[0] != 1 {
		return Cursor{}, glasshouse.Errorf(op, glasshouse.ErrInvalid, "malformed cursor")
	}
	if hex.EncodeToString(b[1:9]) != hex.EncodeToString(queryKey(q)) {
		return Cursor{}, glasshouse.Errorf(op, glasshouse.ErrInvalid, "cursor belongs to another query")
	}
	s := math.Float64frombits(binary.BigEndian.Uint64(b[9:17]))
	if math.IsNaN(s) {
		return Cursor{}, glasshouse.Errorf(op, glasshouse.ErrInvalid, "malformed cursor")
	}
	return Cursor{Score: s, Asset: glasshouse.AssetID(b[17:])}, nil
}

// Normalize checks q and fills in defaults: Limit and HitsPerAsset.
func Normalize(q Query) (Query, error) {
	const op = "search.Search"
	if q.Tenant == "" {
		return q, glasshouse.Errorf(op, glasshouse.ErrInvalid, "query without tenant")
	}
	switch {
	case q.Limit < 0:
		return q, glasshouse.Errorf(op, glasshouse.ErrInvalid, "negative limit %d", q.Limit)
	case q.Limit == 0:
		q.Limit = DefaultLimit
	case q.Limit > MaxLimit:
		q.Limit = MaxLimit
	}
	switch {
	case q.HitsPerAsset < 0:
		return q, glasshouse.Errorf(op, glasshouse.ErrInvalid, "negative hits per asset %d", q.HitsPerAsset)
	case q.HitsPerAsset == 0:
		q.HitsPerAsset = DefaultHitsPerAsset
	case q.HitsPerAsset > MaxHitsPerAsset:
		q.HitsPerAsset = MaxHitsPerAsset
	}
	return q, nil
}

// MarkSnippet turns text with highlight markers (start and end, which must
// not be HTML-special) into HTML-safe text with <mark></mark>.
func MarkSnippet(text, start, end string) string {
	var b strings.Builder
	open := false
	for len(text) > 0 {
		i, j := strings.Index(text, start), strings.Index(text, end)
		switch {
		case i >= 0 && (j < 0 || i < j):
			b.WriteString(htmlEscape(text[:i]))
			if !open {
				b.WriteString("<mark>")
				open = true
			}
			text = text[i+len(start):]
		case j >= 0:
			b.WriteString(htmlEscape(text[:j]))
			if open {
				b.WriteString("</mark>")
				open = false
			}
			text = text[j+len(end):]
		default:
			b.WriteString(htmlEscape(text))
			text = ""
		}
	}
	if open {
		b.WriteString("</mark>")
	}
	return b.String()
}

var htmlReplacer = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;")

func htmlEscape(s string) string { return htmlReplacer.Replace(s) }

// CleanText prepares segment text for the index: control characters
// (which backends use as highlight markers) become spaces, and invalid
// UTF-8 is replaced.
func CleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
