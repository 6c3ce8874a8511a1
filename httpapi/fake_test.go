package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/search"
	"github.com/google/uuid"
)

// fakeService stands in for the real app (package app) only for HTTP
// mapping tests: status codes, the JSON error format, range requests,
// streaming uploads, size limits and route documentation. It keeps assets
// in memory and does no analysis; end-to-end behaviour is tested with the
// real app elsewhere.
type fakeService struct {
	mu      sync.Mutex
	assets  map[glasshouse.AssetID]*fakeAsset
	blobs   map[glasshouse.Ref][]byte
	jobs    []glasshouse.Job
	events  []glasshouse.AuditEvent
	status  *glasshouse.Status
	insight *glasshouse.Insights

	// errs makes the named method fail with the given error.
	errs map[string]error
	// panicIn makes the named method panic.
	panicIn string

	// countOnly makes Ingest count the bytes it reads and store nothing
	// (the streaming test); sample, if set, is called every 64 MiB read.
	countOnly bool
	sample    func()
	counted   int64

	lastActor  glasshouse.Actor
	lastFilter glasshouse.AssetFilter
	lastAfter  int64
	lastLimit  int
	lastJobsID glasshouse.AssetID
}

type fakeAsset struct {
	asset *glasshouse.Asset
	data  []byte
	thumb []byte
}

func newFake() *fakeService {
	return &fakeService{
		assets: map[glasshouse.AssetID]*fakeAsset{},
		blobs:  map[glasshouse.Ref][]byte{},
		errs:   map[string]error{},
	}
}

func (f *fakeService) enter(method string, actor glasshouse.Actor) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.panicIn == method {
		panic("fake panic in " + method)
	}
	f.lastActor = actor
	return f.errs[method]
}

func (f *fakeService) Ingest(ctx context.Context, actor glasshouse.Actor, name, collection string, body io.Reader) (*glasshouse.Asset, bool, error) {
	if err := f.enter("Ingest", actor); err != nil {
		return nil, false, err
	}
	if f.countOnly {
		buf := make([]byte, 256<<10)
		var n, next int64 = 0, 64 << 20
		for {
			m, err := body.Read(buf)
			n += int64(m)
			if f.sample != nil && n >= next {
				f.sample()
				next += 64 << 20
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, false, fmt.Errorf("fake ingest: read body: %w", err)
			}
		}
		f.mu.Lock()
		f.counted += n
		f.mu.Unlock()
		return &glasshouse.Asset{ID: glasshouse.AssetID(uuid.Must(uuid.NewV7()).String()), Name: name, Size: n, Kind: glasshouse.KindVideo}, false, nil
	}
	var buf bytes.Buffer
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(&buf, h), body); err != nil {
		// Like the real app: a failed body stores nothing.
		return nil, false, fmt.Errorf("fake ingest %q: read body: %w", name, err)
	}
	if buf.Len() == 0 {
		return nil, false, glasshouse.Errorf("ingest", glasshouse.ErrInvalid, "%q is empty", name)
	}
	mt := http.DetectContentType(buf.Bytes())
	var kind glasshouse.MediaKind
	switch {
	case strings.HasPrefix(mt, "image/"):
		kind = glasshouse.KindImage
	case strings.HasPrefix(mt, "audio/"):
		kind = glasshouse.KindAudio
	case strings.HasPrefix(mt, "video/"), mt == "application/octet-stream":
		kind, mt = glasshouse.KindVideo, "video/mp4"
	default:
		return nil, false, glasshouse.Errorf("ingest", glasshouse.ErrUnsupported, "%q is %s, not an image, audio or video", name, mt)
	}
	ref := glasshouse.RefFromSum(h.Sum(nil))
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fa := range f.assets {
		if fa.asset.Hash == ref && fa.asset.Tenant == actor.Tenant {
			return fa.asset, true, nil
		}
	}
	a := &glasshouse.Asset{
		ID:         glasshouse.AssetID(uuid.Must(uuid.NewV7()).String()),
		Tenant:     actor.Tenant,
		Collection: collection,
		Name:       name,
		MediaType:  mt,
		Kind:       kind,
		Size:       int64(buf.Len()),
		Hash:       ref,
		Created:    time.Now().UTC(),
	}
	f.assets[a.ID] = &fakeAsset{asset: a, data: buf.Bytes()}
	return a, false, nil
}

func (f *fakeService) get(actor glasshouse.Actor, id glasshouse.AssetID) (*fakeAsset, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fa, ok := f.assets[id]
	if !ok || fa.asset.Tenant != actor.Tenant {
		return nil, glasshouse.Errorf("get asset", glasshouse.ErrNotExist, "asset %s not found", id)
	}
	return fa, nil
}

func (f *fakeService) GetAsset(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID) (*glasshouse.Asset, error) {
	if err := f.enter("GetAsset", actor); err != nil {
		return nil, err
	}
	fa, err := f.get(actor, id)
	if err != nil {
		return nil, err
	}
	return fa.asset, nil
}

func (f *fakeService) ListAssets(ctx context.Context, actor glasshouse.Actor, flt glasshouse.AssetFilter) (*glasshouse.AssetPage, error) {
	if err := f.enter("ListAssets", actor); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastFilter = flt
	page := &glasshouse.AssetPage{}
	for _, fa := range f.assets {
		if fa.asset.Tenant == flt.Tenant && (flt.Collection == "" || fa.asset.Collection == flt.Collection) &&
			(flt.Kind == "" || fa.asset.Kind == flt.Kind) {
			page.Assets = append(page.Assets, fa.asset)
		}
	}
	sort.Slice(page.Assets, func(i, j int) bool { return page.Assets[i].ID > page.Assets[j].ID })
	page.Total = len(page.Assets)
	return page, nil
}

func (f *fakeService) OpenContent(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID, which string) (*glasshouse.Content, error) {
	if err := f.enter("OpenContent", actor); err != nil {
		return nil, err
	}
	fa, err := f.get(actor, id)
	if err != nil {
		return nil, err
	}
	switch which {
	case "original":
		return &glasshouse.Content{
			ReadSeekCloser: nopCloser{bytes.NewReader(fa.data)},
			Size:           int64(len(fa.data)), MediaType: fa.asset.MediaType, Name: fa.asset.Name,
			Hash: fa.asset.Hash, Modified: fa.asset.Created,
		}, nil
	case "thumb", "poster":
		if fa.thumb == nil {
			return nil, glasshouse.Errorf("open content", glasshouse.ErrNotExist, "asset %s has no %s", id, which)
		}
		sum := sha256.Sum256(fa.thumb)
		return &glasshouse.Content{
			ReadSeekCloser: nopCloser{bytes.NewReader(fa.thumb)},
			Size:           int64(len(fa.thumb)), MediaType: "image/jpeg", Hash: glasshouse.RefFromSum(sum[:]),
		}, nil
	}
	return nil, glasshouse.Errorf("open content", glasshouse.ErrInvalid, "unknown content %q", which)
}

func (f *fakeService) DeleteAsset(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID) error {
	if err := f.enter("DeleteAsset", actor); err != nil {
		return err
	}
	if _, err := f.get(actor, id); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.assets, id)
	return nil
}

func (f *fakeService) Jobs(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID) ([]glasshouse.Job, error) {
	if err := f.enter("Jobs", actor); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastJobsID = id
	var out []glasshouse.Job
	for _, j := range f.jobs {
		if id == "" || j.Asset == id {
			out = append(out, j)
		}
	}
	return out, nil
}

func (f *fakeService) Insights(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID) (*glasshouse.Insights, error) {
	if err := f.enter("Insights", actor); err != nil {
		return nil, err
	}
	if _, err := f.get(actor, id); err != nil {
		return nil, err
	}
	return f.insight, nil
}

func (f *fakeService) AuditEvents(ctx context.Context, actor glasshouse.Actor, after int64, limit int) ([]glasshouse.AuditEvent, error) {
	if err := f.enter("AuditEvents", actor); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastAfter, f.lastLimit = after, limit
	var out []glasshouse.AuditEvent
	for _, ev := range f.events {
		if ev.Seq > after && len(out) < limit {
			out = append(out, ev)
		}
	}
	return out, nil
}

func (f *fakeService) Status(ctx context.Context) (*glasshouse.Status, error) {
	if err := f.enter("Status", glasshouse.Actor{}); err != nil {
		return nil, err
	}
	return f.status, nil
}

func (f *fakeService) OpenBlob(ctx context.Context, actor glasshouse.Actor, ref glasshouse.Ref) (*glasshouse.Content, error) {
	if err := f.enter("OpenBlob", actor); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.blobs[ref]
	if !ok {
		return nil, glasshouse.Errorf("open blob", glasshouse.ErrNotExist, "blob %s not found", ref)
	}
	return &glasshouse.Content{ReadSeekCloser: nopCloser{bytes.NewReader(b)}, Size: int64(len(b)), MediaType: "image/jpeg", Hash: ref}, nil
}

type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }

var _ Service = (*fakeService)(nil)

func (f *fakeService) Search(ctx context.Context, actor glasshouse.Actor, q search.Query) (*search.Hits, error) {
	if err := f.enter("Search", actor); err != nil {
		return nil, err
	}
	if _, err := search.Parse(q.Text); err != nil {
		return nil, err
	}
	return &search.Hits{}, nil
}

func (f *fakeService) PatchAsset(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID, note, collection *string) (*glasshouse.Asset, error) {
	if err := f.enter("PatchAsset", actor); err != nil {
		return nil, err
	}
	return f.GetAsset(ctx, actor, id)
}

func (f *fakeService) Export(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID, format string) (*glasshouse.Content, error) {
	if err := f.enter("Export", actor); err != nil {
		return nil, err
	}
	if format != "vtt" {
		return nil, glasshouse.Errorf("export", glasshouse.ErrInvalid, "unknown export format %q", format)
	}
	b := []byte("WEBVTT\n\n")
	return &glasshouse.Content{ReadSeekCloser: nopRSC{bytes.NewReader(b)}, Size: int64(len(b)), MediaType: "text/vtt", Name: "x.vtt"}, nil
}

type nopRSC struct{ *bytes.Reader }

func (nopRSC) Close() error { return nil }
