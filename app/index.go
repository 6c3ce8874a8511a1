package app

import (
	"context"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/search"
	"github.com/glasshouse/glasshouse/search/sqlitefts"
	"github.com/glasshouse/glasshouse/sqlite"
)

// openIndex opens the search index that lives next to the catalog.
func openIndex(ctx context.Context, db *sqlite.DB) (search.Index, error) {
	return sqlitefts.New(ctx, db.SQL())
}

func (a *App) indexResult(ctx context.Context, as *glasshouse.Asset, source string, in *glasshouse.Insights) error {
	segs := search.SegmentsFromInsights(as, source, in)
	return a.index.ReplaceAsset(ctx, as.Tenant, as.ID, source, segs)
}

func (a *App) indexNameAndNote(ctx context.Context, as *glasshouse.Asset) error {
	return a.index.ReplaceAsset(ctx, as.Tenant, as.ID, "asset", search.AssetSegments(as))
}

// Search runs a query over the actor's tenant and records it in the audit log.
func (a *App) Search(ctx context.Context, actor glasshouse.Actor, q search.Query) (*search.Hits, error) {
	q.Tenant = actor.Tenant
	hits, err := a.index.Search(ctx, q)
	if err != nil {
		return nil, err
	}
	if err := a.audit(ctx, actor, "search", "", map[string]any{"query": q.Text, "results": hits.Total}); err != nil {
		return nil, err
	}
	return hits, nil
}
