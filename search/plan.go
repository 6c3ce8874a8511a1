package search

import (
	"slices"
	"strings"
	"time"

	"github.com/glasshouse/glasshouse"
)

// Plan is a query compiled into set operations over assets, for a backend
// to translate into its own query language. An asset matches when it passes
// Filter and Root (if any).
type Plan struct {
	Filter Filter // asset attributes the whole query requires
	Root   *Node  // nil: every asset that passes Filter
}

// Filter is a condition on asset attributes (the same on every segment of
// an asset). Zero fields do not restrict.
type Filter struct {
	Collections []string               // any of these
	Types       []glasshouse.MediaKind // any of these
	After       time.Time              // created at or after
	Before      time.Time              // created before
}

// IsZero reports whether f restricts nothing.
func (f Filter) IsZero() bool {
	return f.Collections == nil && f.Types == nil && f.After.IsZero() && f.Before.IsZero()
}

// NodeOp is the operation of a Node.
type NodeOp int

const (
	OpAtom NodeOp = iota // the assets that have a segment matching Atom
	OpAnd                // assets in every Kids set and in no Not set
	OpOr                 // assets in any Kids set
)

// Node is a set of assets.
type Node struct {
	Op   NodeOp
	Atom *Atom
	Kids []*Node
	// Not holds the exclusions of an OpAnd. An OpAnd with Not but no Kids
	// happens only at the root: every asset that passes Plan.Filter, less
	// the exclusions.
	Not []*Node
}

// Atom is a condition on one segment: an asset matches if it has a segment
// that satisfies every non-zero field.
type Atom struct {
	Kinds  []string // segment kind is one of these; nil: any
	Match  *Match   // segment text matches; nil: any text
	Exact  string   // segment text equals this (lower case), for label:
	Filter *Filter  // asset attributes (a filter inside OR or NOT)
	// Hits marks the atoms whose matching segments are shown as hits and
	// ranked: text terms, or label: conditions when a query has no text.
	Hits bool
	// Phrase, if set, holds the words of an unquoted multi-word query:
	// segments that contain them as an exact phrase rank higher.
	Phrase []string
}

// MatchOp is the operation of a Match.
type MatchOp int

const (
	MatchWords MatchOp = iota // Words in sequence (one word: a term)
	MatchAnd                  // every Kid in the same segment
	MatchOr                   // any Kid
)

// Match is a text condition on one segment.
type Match struct {
	Op     MatchOp
	Words  []string // MatchWords: lower-case tokens of letters and digits
	Prefix bool     // MatchWords: the last word is a prefix
	Kids   []*Match
}

// Compile parses and compiles a query. Errors are *ParseError.
func Compile(query string) (*Plan, error) {
	e, err := Parse(query)
	if err != nil {
		return nil, err
	}
	return CompileExpr(e)
}

// CompileExpr compiles a parsed query.
func CompileExpr(e Expr) (*Plan, error) {
	p := &Plan{}
	kids := []Expr{e}
	if a, ok := e.(*And); ok {
		kids = a.Kids
	}
	var rest []Expr
	for _, k := range kids {
		if f, ok := k.(*Field); ok && isAttr(f) {
			p.Filter.add(f)
			continue
		}
		rest = append(rest, k)
	}
	if len(rest) > 0 {
		n, err := compileConj(rest, nil, true, !p.Filter.IsZero())
		if err != nil {
			return nil, err
		}
		p.Root = n
	}
	if !hasHitAtom(p.Root, false, func(a *Atom) bool { return a.Hits }) {
		// No text terms: show the label segments that matched.
		hasHitAtom(p.Root, false, func(a *Atom) bool {
			if a.Exact != "" || slices.Equal(a.Kinds, []string{glasshouse.SegLabel}) && a.Match != nil {
				a.Hits = true
			}
			return false
		})
	}
	return p, nil
}

// hasHitAtom walks the positive atoms of n and reports whether fn is true
// for any.
func hasHitAtom(n *Node, neg bool, fn func(*Atom) bool) bool {
	if n == nil || neg {
		return false
	}
	if n.Op == OpAtom {
		return fn(n.Atom)
	}
	found := false
	for _, k := range n.Kids {
		if hasHitAtom(k, false, fn) {
			found = true
		}
	}
	return found
}

func isAttr(f *Field) bool {
	switch f.Name {
	case "collection", "type", "after", "before":
		return true
	}
	return false
}

// add merges f into the filter: repeated collection: and type: are
// alternatives, dates narrow the range.
func (fl *Filter) add(f *Field) {
	switch f.Name {
	case "collection":
		if !slices.Contains(fl.Collections, f.Collection) {
			fl.Collections = append(fl.Collections, f.Collection)
		}
	case "type":
		for _, t := range f.Types {
			if !slices.Contains(fl.Types, t) {
				fl.Types = append(fl.Types, t)
			}
		}
	case "after":
		if f.Time.After(fl.After) {
			fl.After = f.Time
		}
	case "before":
		if fl.Before.IsZero() || f.Time.Before(fl.Before) {
			fl.Before = f.Time
		}
	}
}

func isPureText(e Expr) bool {
	switch e := e.(type) {
	case *Text:
		return true
	case *And:
		for _, k := range e.Kids {
			if !isPureText(k) {
				return false
			}
		}
		return true
	case *Or:
		for _, k := range e.Kids {
			if !isPureText(k) {
				return false
			}
		}
		return true
	}
	return false
}

func toMatch(e Expr) *Match {
	switch e := e.(type) {
	case *Text:
		return &Match{Op: MatchWords, Words: e.Words, Prefix: e.Prefix}
	case *And:
		m := &Match{Op: MatchAnd}
		for _, k := range e.Kids {
			m.Kids = append(m.Kids, toMatch(k))
		}
		return m
	case *Or:
		m := &Match{Op: MatchOr}
		for _, k := range e.Kids {
			m.Kids = append(m.Kids, toMatch(k))
		}
		return m
	}
	return nil
}

func compileNode(e Expr, scope []string) (*Node, error) {
	if o, ok := e.(*Or); ok && !isPureText(o) {
		n := &Node{Op: OpOr}
		for _, k := range o.Kids {
			kn, err := compileNode(k, scope)
			if err != nil {
				return nil, err
			}
			n.Kids = append(n.Kids, kn)
		}
		return n, nil
	}
	if a, ok := e.(*And); ok {
		return compileConj(a.Kids, scope, false, false)
	}
	return compileConj([]Expr{e}, scope, false, false)
}

// compileConj compiles the conditions of one AND group. Text terms that
// share the group's scope become one atom (they must match one segment).
func compileConj(kids []Expr, scope []string, root, rootFilter bool) (*Node, error) {
	var (
		texts  []Expr
		kinds  []string
		hasIn  bool
		attrs  Filter
		nAttrs int
		n      = &Node{Op: OpAnd}
	)
	for _, k := range kids {
		if f, ok := k.(*Field); ok && f.Name == "in" {
			hasIn = true
			for _, kd := range f.Kinds {
				if !slices.Contains(kinds, kd) {
					kinds = append(kinds, kd)
				}
			}
		}
	}
	if !hasIn {
		kinds = scope
	}
	var firstNot *Not
	for _, k := range kids {
		switch k := k.(type) {
		case *Field:
			switch {
			case k.Name == "in":
			case k.Name == "label":
				a := &Atom{Kinds: []string{glasshouse.SegLabel}, Match: toMatch(k.Label)}
				if !k.Label.Prefix {
					a.Exact = strings.Join(k.Label.Words, " ")
				}
				n.Kids = append(n.Kids, &Node{Op: OpAtom, Atom: a})
			default:
				attrs.add(k)
				nAttrs++
			}
		case *Not:
			if firstNot == nil {
				firstNot = k
			}
			kn, err := compileNode(k.Kid, kinds)
			if err != nil {
				return nil, err
			}
			n.Not = append(n.Not, kn)
		default:
			if isPureText(k) {
				texts = append(texts, k)
				continue
			}
			kn, err := compileNode(k, kinds)
			if err != nil {
				return nil, err
			}
			n.Kids = append(n.Kids, kn)
		}
	}
	if nAttrs > 0 {
		f := attrs
		n.Kids = append(n.Kids, &Node{Op: OpAtom, Atom: &Atom{Filter: &f}})
	}
	switch {
	case len(texts) > 0:
		a := &Atom{Kinds: kinds, Hits: true}
		if len(texts) == 1 {
			a.Match = toMatch(texts[0])
		} else {
			a.Match = toMatch(&And{Kids: texts})
			var words []string
			for _, t := range texts {
				if t, ok := t.(*Text); ok && !t.Quoted && !t.Prefix && len(t.Words) == 1 {
					words = append(words, t.Words[0])
				}
			}
			if len(words) > 1 {
				a.Phrase = words
			}
		}
		// Text first: backends evaluate it first and show its hits.
		n.Kids = append([]*Node{{Op: OpAtom, Atom: a}}, n.Kids...)
	case hasIn:
		n.Kids = append(n.Kids, &Node{Op: OpAtom, Atom: &Atom{Kinds: kinds}})
	}
	if len(n.Kids) == 0 && firstNot != nil && !(root && rootFilter) {
		return nil, &ParseError{Pos: firstNot.Pos, Msg: "nothing to exclude from: add words or filters next to the exclusion"}
	}
	if len(n.Kids) == 1 && len(n.Not) == 0 {
		return n.Kids[0], nil
	}
	return n, nil
}
