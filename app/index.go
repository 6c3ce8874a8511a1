package app

import (
	"context"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/search"
)

func (a *App) indexResult(ctx context.Context, as *glasshouse.Asset, source string, in *glasshouse.Insights) error {
	segs := search.SegmentsFromInsights(as, source, in)
	return a.index.Replace(ctx, as.Tenant, as.ID, source, segs)
}

func (a *App) indexNameAndNote(ctx context.Context, as *glasshouse.Asset) error {
	return a.index.Replace(ctx, as.Tenant, as.ID, "name", search.NameSegments(as))
}
