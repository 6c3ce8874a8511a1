package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tus/tusd/v2/pkg/filelocker"
	"github.com/tus/tusd/v2/pkg/filestore"
	tushandler "github.com/tus/tusd/v2/pkg/handler"
	expslog "golang.org/x/exp/slog"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/auth"
)

// UploadsPath is where the tus resumable-upload endpoint lives.
const UploadsPath = "/api/uploads/"

type actorKey struct{}

// newTus builds the tus (resumable upload, https://tus.io) handler: tusd
// keeps the partial upload in dir, a dropped connection resumes from the
// last byte the server has, and when the last byte arrives the file is
// ingested before the final response, which carries the asset id in
// X-Glasshouse-Asset (so the upload is acknowledged only once it is durable
// in the archive). The upload metadata gives "filename" and "collection".
func (a *api) newTus(dir string) (http.Handler, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tus: create upload folder: %w", err)
	}
	composer := tushandler.NewStoreComposer()
	filestore.New(dir).UseIn(composer)
	filelocker.New(dir).UseIn(composer)
	h, err := tushandler.NewHandler(tushandler.Config{
		BasePath:                  UploadsPath,
		StoreComposer:             composer,
		MaxSize:                   max(a.opts.MaxUploadBytes, 0),
		DisableDownload:           true,
		PreFinishResponseCallback: a.tusFinish,
		PreUploadCreateCallback:   tusOwn,
		// tusd logs through golang.org/x/exp/slog: only its warnings, to
		// stderr (our own request log already records every request).
		Logger: expslog.New(expslog.NewTextHandler(os.Stderr, &expslog.HandlerOptions{Level: expslog.LevelWarn})).With("component", "tus"),
	})
	if err != nil {
		return nil, fmt.Errorf("tus: %w", err)
	}
	strip := http.StripPrefix(UploadsPath, h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The hook sees the request context's values: carry the actor.
		actor := actorFrom(r)
		r = r.WithContext(context.WithValue(r.Context(), actorKey{}, actor))
		if r.URL.Path == "/api/uploads" {
			r.URL.Path = UploadsPath
		}
		// An upload belongs to whoever created it: nobody else may see,
		// continue, finish or cancel it.
		if id := strings.TrimPrefix(r.URL.Path, UploadsPath); id != "" {
			if !tusOwnedBy(dir, id, actor) {
				writeErrorCode(w, http.StatusNotFound, "not_found", "no upload "+truncate(id, 40))
				return
			}
		}
		strip.ServeHTTP(w, r)
	}), nil
}

// ownerKey is the upload metadata entry naming who created the upload.
const ownerKey = "glasshouse_owner"

func ownerOf(a glasshouse.Actor) string { return string(a.Tenant) + "/" + a.User }

// tusOwn records the creator of a new upload in its metadata, replacing
// anything the client sent under that name.
func tusOwn(hook tushandler.HookEvent) (tushandler.HTTPResponse, tushandler.FileInfoChanges, error) {
	actor, ok := hook.Context.Value(actorKey{}).(glasshouse.Actor)
	if !ok || actor.User == "" {
		return tushandler.HTTPResponse{}, tushandler.FileInfoChanges{}, tusError(glasshouse.E("tus create", auth.ErrUnauthenticated, nil, "upload without a signed-in caller"))
	}
	meta := tushandler.MetaData{}
	for k, v := range hook.Upload.MetaData {
		meta[k] = v
	}
	meta[ownerKey] = ownerOf(actor)
	return tushandler.HTTPResponse{}, tushandler.FileInfoChanges{MetaData: meta}, nil
}

// tusOwnedBy reports whether upload id (kept by filestore in dir) was
// created by actor; a malformed or unknown id is nobody's.
func tusOwnedBy(dir, id string, actor glasshouse.Actor) bool {
	if len(id) == 0 || len(id) > 64 || strings.Trim(id, "0123456789abcdef") != "" {
		return false
	}
	b, err := os.ReadFile(filepath.Join(dir, id+".info"))
	if err != nil {
		return false
	}
	var info struct{ MetaData map[string]string }
	if err := json.Unmarshal(b, &info); err != nil {
		return false
	}
	return info.MetaData[ownerKey] == ownerOf(actor)
}

// tusFinish ingests a completed upload and removes its temporary files.
func (a *api) tusFinish(hook tushandler.HookEvent) (tushandler.HTTPResponse, error) {
	up := hook.Upload
	actor, ok := hook.Context.Value(actorKey{}).(glasshouse.Actor)
	if !ok || actor.User == "" {
		return tushandler.HTTPResponse{}, tusError(glasshouse.E("tus finish", auth.ErrUnauthenticated, nil, "upload without a signed-in caller"))
	}
	if up.MetaData[ownerKey] != ownerOf(actor) {
		return tushandler.HTTPResponse{}, tusError(glasshouse.Errorf("tus finish", glasshouse.ErrNotExist, "no such upload"))
	}
	path := up.Storage["Path"]
	defer func() {
		if path != "" {
			os.Remove(path)
			os.Remove(path + ".info")
			os.Remove(filepath.Join(filepath.Dir(path), up.ID+".lock"))
		}
	}()
	f, err := os.Open(path)
	if err != nil {
		return tushandler.HTTPResponse{}, tusError(glasshouse.E("tus finish", glasshouse.ErrUnavailable, err, "read the finished upload"))
	}
	defer f.Close()
	name := up.MetaData["filename"]
	if name == "" {
		name = "upload"
	}
	as, dup, err := a.svc.Ingest(hook.Context, actor, name, up.MetaData["collection"], f)
	if err != nil {
		a.log.Debug("tus upload rejected", "name", name, "err", err)
		return tushandler.HTTPResponse{}, tusError(err)
	}
	return tushandler.HTTPResponse{Header: tushandler.HTTPHeader{
		"X-Glasshouse-Asset":     string(as.ID),
		"X-Glasshouse-Duplicate": strconv.FormatBool(dup),
	}}, nil
}

// tusError turns an ingest error into tusd's error with our JSON body.
func tusError(err error) error {
	status, d := describe(err)
	var te tushandler.Error
	if errors.As(err, &te) {
		return te
	}
	body := fmt.Sprintf(`{"error":{"code":%q,"message":%q}}`, d.Code, d.Message)
	return tushandler.Error{ErrorCode: d.Code, Message: d.Message, HTTPResponse: tushandler.HTTPResponse{
		StatusCode: status, Body: body, Header: tushandler.HTTPHeader{"Content-Type": "application/json"},
	}}
}
