package search

import (
	"sort"

	"github.com/glasshouse/glasshouse"
)

// HitAtoms returns the atoms under n whose matching segments are hits.
func HitAtoms(n *Node) []*Atom {
	if n == nil {
		return nil
	}
	if n.Op == OpAtom {
		if n.Atom.Hits {
			return []*Atom{n.Atom}
		}
		return nil
	}
	var out []*Atom
	for _, k := range n.Kids {
		out = append(out, HitAtoms(k)...)
	}
	return out
}

// Driver returns the atom that can drive a bounded search of root: the
// only atom whose segments are hits, when every matching asset must have
// one of its segments (root is the atom, or an AND whose first condition
// it is), and it has a text condition. Other roots (OR of conditions,
// several hit atoms, no text) are evaluated exactly. Both indexes follow
// this rule, so that they bound the same queries.
func Driver(root *Node) *Atom {
	if root == nil {
		return nil
	}
	var a *Atom
	switch {
	case root.Op == OpAtom:
		a = root.Atom
	case root.Op == OpAnd && len(root.Kids) > 0 && root.Kids[0].Op == OpAtom:
		a = root.Kids[0].Atom
		if len(HitAtoms(root)) != 1 {
			return nil
		}
	default:
		return nil
	}
	if !a.Hits || a.Match == nil {
		return nil
	}
	return a
}

// Candidate is one segment a bounded search ranked.
type Candidate struct {
	Hit
	ID   int64
	Text string
}

// CandidateGroup is an asset's candidates; its Score is their best.
type CandidateGroup struct {
	AssetHits
	Cands []*Candidate
}

// Add appends c to the group of its asset in groups, creating the group
// (with collection and media kind) the first time; order lists the assets
// in the order they were first seen.
func Add(groups map[glasshouse.AssetID]*CandidateGroup, order *[]string, asset glasshouse.AssetID, collection string, media glasshouse.MediaKind, c *Candidate) {
	g := groups[asset]
	if g == nil {
		g = &CandidateGroup{AssetHits: AssetHits{Asset: asset, Collection: collection, MediaKind: media}}
		groups[asset] = g
		*order = append(*order, string(asset))
	}
	g.Cands = append(g.Cands, c)
	g.Score = max(g.Score, c.Score)
}

// Page orders the groups (best score first, then asset descending, as the
// cursor expects), applies the cursor and q.Limit, and keeps the best
// q.HitsPerAsset candidates of each group on the page (best score, then
// earliest, then lowest id). Total is the number of groups, estimated when
// truncated (more segments matched than were ranked). The caller turns the
// page's candidates into hits with snippets.
func Page(q Query, groups map[glasshouse.AssetID]*CandidateGroup, cur *Cursor, truncated bool) (*Hits, []*CandidateGroup) {
	all := make([]*CandidateGroup, 0, len(groups))
	for _, g := range groups {
		all = append(all, g)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Score != all[j].Score {
			return all[i].Score > all[j].Score
		}
		return all[i].Asset > all[j].Asset
	})
	out := &Hits{Assets: []AssetHits{}, Total: len(all), TotalEstimated: truncated}
	page := all
	if cur != nil {
		i := sort.Search(len(all), func(i int) bool { return cur.After(all[i].Score, all[i].Asset) })
		page = all[i:]
	}
	if len(page) > q.Limit {
		page = page[:q.Limit]
		last := page[len(page)-1]
		out.Next = EncodeCursor(q, Cursor{Score: last.Score, Asset: last.Asset})
	}
	for _, g := range page {
		cs := g.Cands
		sort.Slice(cs, func(i, j int) bool {
			if cs[i].Score != cs[j].Score {
				return cs[i].Score > cs[j].Score
			}
			if cs[i].StartMS != cs[j].StartMS {
				return cs[i].StartMS < cs[j].StartMS
			}
			return cs[i].ID < cs[j].ID
		})
		if len(cs) > q.HitsPerAsset {
			cs = cs[:q.HitsPerAsset]
		}
		g.Cands = cs
	}
	return out, page
}

// Restrict removes from groups the assets that fail the other conditions
// of root when it is an AND driven by its first kid (see Driver): each
// further kid must hold the asset, no Not condition may. in reports which
// of the candidate assets are in a condition's set.
func Restrict(root *Node, groups map[glasshouse.AssetID]*CandidateGroup, in func(n *Node) (map[glasshouse.AssetID]bool, error)) error {
	if root.Op != OpAnd || len(groups) == 0 {
		return nil
	}
	for _, k := range root.Kids[1:] {
		set, err := in(k)
		if err != nil {
			return err
		}
		for a := range groups {
			if !set[a] {
				delete(groups, a)
			}
		}
	}
	for _, k := range root.Not {
		set, err := in(k)
		if err != nil {
			return err
		}
		for a := range set {
			delete(groups, a)
		}
	}
	return nil
}
