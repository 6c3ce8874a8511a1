package app

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/glasshouse/glasshouse"
)

// audit appends an event for a read; a failure to record it fails the read,
// so nothing is read off the record.
func (a *App) audit(ctx context.Context, actor glasshouse.Actor, action, target string, detail any) error {
	if _, err := a.db.Append(ctx, glasshouse.NewEvent(actor, action, target, detail)); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// GetAsset returns one asset of the actor's tenant and records the view.
func (a *App) GetAsset(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID) (*glasshouse.Asset, error) {
	as, err := a.db.GetAsset(ctx, actor.Tenant, id)
	if err != nil {
		return nil, err
	}
	if err := a.audit(ctx, actor, "view", string(id), nil); err != nil {
		return nil, err
	}
	return as, nil
}

// ListAssets lists the tenant's assets and records the listing.
func (a *App) ListAssets(ctx context.Context, actor glasshouse.Actor, f glasshouse.AssetFilter) (*glasshouse.AssetPage, error) {
	f.Tenant = actor.Tenant
	p, err := a.db.ListAssets(ctx, f)
	if err != nil {
		return nil, err
	}
	if err := a.audit(ctx, actor, "list", "", map[string]any{"collection": f.Collection, "kind": f.Kind, "count": len(p.Assets)}); err != nil {
		return nil, err
	}
	return p, nil
}

// OpenContent opens the original, thumbnail or poster of an asset.
func (a *App) OpenContent(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID, which string) (*glasshouse.Content, error) {
	as, err := a.db.GetAsset(ctx, actor.Tenant, id)
	if err != nil {
		return nil, err
	}
	var ref glasshouse.Ref
	mt, name := "image/jpeg", as.Name
	switch which {
	case "original", "":
		ref, mt = as.Hash, as.MediaType
		if err := a.audit(ctx, actor, "download", string(id), map[string]any{"hash": as.Hash}); err != nil {
			return nil, err
		}
	case "thumb":
		ref, name = as.Thumb, as.Name+".thumb.jpg"
	case "poster":
		ref, name = as.Poster, as.Name+".poster.jpg"
	default:
		return nil, glasshouse.Errorf("open content", glasshouse.ErrInvalid, "unknown content %q (want original, thumb or poster)", which)
	}
	if ref == "" {
		return nil, glasshouse.Errorf("open content", glasshouse.ErrNotExist, "asset %s has no %s", id, which)
	}
	return a.openRef(ctx, ref, mt, name, as)
}

func (a *App) openRef(ctx context.Context, ref glasshouse.Ref, mt, name string, as *glasshouse.Asset) (*glasshouse.Content, error) {
	size, err := a.blobs.Stat(ctx, ref)
	if err != nil {
		return nil, err
	}
	return &glasshouse.Content{
		ReadSeekCloser: &blobSeeker{ctx: ctx, s: a.blobs, ref: ref, size: size},
		Size:           size, MediaType: mt, Name: name, Hash: ref, Modified: as.Created,
	}, nil
}

// OpenBlob opens a derived blob (keyframe, thumbnail) that belongs to one
// of the actor's assets. Refs that the tenant does not use are reported as
// not found, so a tenant cannot probe for another tenant's content.
func (a *App) OpenBlob(ctx context.Context, actor glasshouse.Actor, ref glasshouse.Ref) (*glasshouse.Content, error) {
	if !ref.Valid() {
		return nil, glasshouse.Errorf("open blob", glasshouse.ErrInvalid, "malformed blob ref %q", ref)
	}
	owner, err := a.db.BlobOwner(ctx, actor.Tenant, ref)
	if err != nil {
		return nil, err
	}
	as, err := a.db.GetAsset(ctx, actor.Tenant, owner)
	if err != nil {
		return nil, err
	}
	mt := "image/jpeg"
	if ref == as.Hash {
		mt = as.MediaType
	}
	return a.openRef(ctx, ref, mt, ref.Hex()[:16]+".jpg", as)
}

// DeleteAsset deletes an asset, its results, index entries and (unless
// another asset uses it) its blobs. The deletion record stays in the audit log.
func (a *App) DeleteAsset(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID) error {
	as, err := a.db.GetAsset(ctx, actor.Tenant, id)
	if err != nil {
		return err
	}
	ev := glasshouse.NewEvent(actor, "delete", string(id), map[string]any{"name": as.Name, "hash": as.Hash, "size": as.Size})
	orphans, err := a.db.DeleteAsset(ctx, actor.Tenant, id, ev)
	if err != nil {
		return err
	}
	if err := a.index.Delete(ctx, id); err != nil {
		a.log.Error("delete index entries", "asset", id, "err", err)
	}
	for _, ref := range orphans {
		a.mu.Lock()
		busy := a.pending[ref] > 0
		a.mu.Unlock()
		if busy {
			continue
		}
		if err := a.blobs.Delete(ctx, ref); err != nil && !errors.Is(err, glasshouse.ErrNotExist) {
			a.log.Error("delete blob", "ref", ref, "err", err)
		}
	}
	return nil
}

// Jobs lists the jobs of one asset, or of the tenant when id is empty.
func (a *App) Jobs(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID) ([]glasshouse.Job, error) {
	if id != "" {
		if _, err := a.db.GetAsset(ctx, actor.Tenant, id); err != nil {
			return nil, err
		}
	}
	return a.db.Jobs(ctx, actor.Tenant, id)
}

// Insights assembles the insight document of an asset from its results.
func (a *App) Insights(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID) (*glasshouse.Insights, error) {
	as, err := a.db.GetAsset(ctx, actor.Tenant, id)
	if err != nil {
		return nil, err
	}
	ins, err := a.insights(ctx, as)
	if err != nil {
		return nil, err
	}
	if err := a.audit(ctx, actor, "view_insights", string(id), nil); err != nil {
		return nil, err
	}
	return ins, nil
}

func (a *App) insights(ctx context.Context, as *glasshouse.Asset) (*glasshouse.Insights, error) {
	rs, err := a.db.Results(ctx, as.Tenant, as.ID)
	if err != nil {
		return nil, err
	}
	ins := &glasshouse.Insights{Probe: as.Probe}
	for _, r := range rs {
		ins.Merge(&r.Insights)
	}
	ins.Analyzers = as.Runs
	return ins, nil
}

// AuditEvents returns the tenant's audit events after seq.
func (a *App) AuditEvents(ctx context.Context, actor glasshouse.Actor, after int64, limit int) ([]glasshouse.AuditEvent, error) {
	if actor.Tenant == "" { // the store reads "" as every tenant
		return nil, glasshouse.Errorf("audit events", glasshouse.ErrPermission, "the audit log is read per tenant")
	}
	return a.db.Events(ctx, actor.Tenant, after, limit)
}

// blobSeeker is an io.ReadSeekCloser over a blob, opening range readers
// lazily so that seeks cost nothing until the next read.
type blobSeeker struct {
	ctx  context.Context
	s    glasshouse.BlobStore
	ref  glasshouse.Ref
	size int64
	pos  int64
	rc   io.ReadCloser
}

func (b *blobSeeker) Read(p []byte) (int, error) {
	if b.pos >= b.size {
		return 0, io.EOF
	}
	if b.rc == nil {
		rc, err := b.s.Open(b.ctx, b.ref, b.pos, -1)
		if err != nil {
			return 0, err
		}
		b.rc = rc
	}
	n, err := b.rc.Read(p)
	b.pos += int64(n)
	return n, err
}

func (b *blobSeeker) Seek(off int64, whence int) (int64, error) {
	var np int64
	switch whence {
	case io.SeekStart:
		np = off
	case io.SeekCurrent:
		np = b.pos + off
	case io.SeekEnd:
		np = b.size + off
	default:
		return 0, fmt.Errorf("seek: bad whence %d", whence)
	}
	if np < 0 {
		return 0, fmt.Errorf("seek: negative position %d", np)
	}
	if np != b.pos && b.rc != nil {
		b.rc.Close()
		b.rc = nil
	}
	b.pos = np
	return np, nil
}

func (b *blobSeeker) Close() error {
	if b.rc != nil {
		return b.rc.Close()
	}
	return nil
}

// PatchAsset changes an asset's note or collection, keeps the search index
// in step (notes are searchable with in:note) and records the change.
func (a *App) PatchAsset(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID, note, collection *string) (*glasshouse.Asset, error) {
	as, err := a.db.GetAsset(ctx, actor.Tenant, id)
	if err != nil {
		return nil, err
	}
	detail := map[string]any{}
	if note != nil {
		if len(*note) > 64<<10 {
			return nil, glasshouse.Errorf("patch asset", glasshouse.ErrInvalid, "note longer than 64 KiB")
		}
		as.Note = *note
		detail["note"] = as.Note
	}
	if collection != nil {
		if err := ValidCollection(*collection); err != nil {
			return nil, err
		}
		detail["collection"] = *collection
		detail["from_collection"] = as.Collection
		as.Collection = *collection
	}
	if err := a.db.PatchAsset(ctx, as, glasshouse.NewEvent(actor, "update", string(id), detail)); err != nil {
		return nil, err
	}
	if err := a.index.SetCollection(ctx, as.Tenant, as.ID, as.Collection); err != nil {
		return nil, fmt.Errorf("patch asset: index: %w", err)
	}
	if err := a.indexNameAndNote(ctx, as); err != nil {
		return nil, fmt.Errorf("patch asset: index: %w", err)
	}
	return as, nil
}
