package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/glasshouse/glasshouse"
)

// BlobOwner returns an asset of tenant that references ref as its original,
// thumbnail, poster or a result blob; ErrNotExist if the tenant has none, so
// a tenant cannot open another tenant's blobs by guessing hashes.
func (db *DB) BlobOwner(ctx context.Context, tenant glasshouse.TenantID, ref glasshouse.Ref) (glasshouse.AssetID, error) {
	const op = "sqlite.BlobOwner"
	var id string
	err := db.r.QueryRowContext(ctx, `
		SELECT id FROM gh_assets WHERE tenant = ?1 AND (hash = ?2 OR thumb = ?2 OR poster = ?2)
		UNION ALL
		SELECT b.asset FROM gh_result_blobs b JOIN gh_assets a ON a.id = b.asset
		WHERE a.tenant = ?1 AND b.ref = ?2
		LIMIT 1`, string(tenant), string(ref)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", glasshouse.Errorf(op, glasshouse.ErrNotExist, "blob %s not found", ref)
	}
	if err != nil {
		return "", mapErr(op, err, "find blob owner")
	}
	return glasshouse.AssetID(id), nil
}
