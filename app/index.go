package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/postgres"
	"github.com/glasshouse/glasshouse/search"
	"github.com/glasshouse/glasshouse/search/pgsearch"
	"github.com/glasshouse/glasshouse/search/sqlitefts"
	"github.com/glasshouse/glasshouse/sqlite"
)

// Compile-time checks: both backends are complete stores.
var (
	_ Store = (*sqlite.DB)(nil)
	_ Store = (*postgres.DB)(nil)
)

// IsPostgres reports whether dsn names the PostgreSQL backend.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// openDB opens the catalog backend named by dsn and the search index that
// lives next to it: SQLite with FTS5, or PostgreSQL with tsvector.
func openDB(ctx context.Context, dsn string, log *slog.Logger) (Store, search.Index, error) {
	if IsPostgres(dsn) {
		db, err := postgres.Open(ctx, dsn, log)
		if err != nil {
			return nil, nil, err
		}
		idx, err := pgsearch.New(ctx, db.StdDB())
		if err != nil {
			db.Close()
			return nil, nil, fmt.Errorf("search index: %w", err)
		}
		return db, idx, nil
	}
	db, err := sqlite.Open(ctx, dsn, log)
	if err != nil {
		return nil, nil, err
	}
	idx, err := sqlitefts.New(ctx, db.SQL())
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("search index: %w", err)
	}
	return db, idx, nil
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
	for i := range hits.Assets {
		a.addMomentThumbs(ctx, actor.Tenant, &hits.Assets[i])
	}
	if err := a.audit(ctx, actor, "search", "", map[string]any{"query": q.Text, "results": hits.Total}); err != nil {
		return nil, err
	}
	return hits, nil
}

// addMomentThumbs sets each hit's Thumb to a keyframe thumbnail of the shot
// the hit falls in, nearest to its start (or the asset thumbnail when there
// are no keyframes).
func (a *App) addMomentThumbs(ctx context.Context, tenant glasshouse.TenantID, ah *search.AssetHits) {
	as, err := a.db.GetAsset(ctx, tenant, ah.Asset)
	if err != nil {
		return
	}
	ah.Name, ah.Thumb = as.Name, as.Thumb
	if as.Probe != nil {
		ah.DurationMS = as.Probe.DurationMS
	}
	var kfs []glasshouse.Keyframe
	var shots []glasshouse.Shot
	if rs, err := a.db.Results(ctx, tenant, ah.Asset); err == nil {
		for _, r := range rs {
			kfs = append(kfs, r.Insights.Keyframes...)
			shots = append(shots, r.Insights.Shots...)
		}
	}
	for i := range ah.Hits {
		h := &ah.Hits[i]
		h.Thumb = as.Thumb
		mid := (h.StartMS + h.EndMS) / 2
		shot := -1
		for _, s := range shots {
			if s.StartMS <= mid && mid < s.EndMS {
				shot = s.Index
			}
		}
		best := int64(-1)
		for _, k := range kfs {
			if k.Thumb == "" || (shot >= 0 && k.Shot != shot) {
				continue
			}
			d := k.TimeMS - h.StartMS
			if d < 0 {
				d = -d
			}
			if best < 0 || d < best {
				best, h.Thumb = d, k.Thumb
			}
		}
	}
}
