package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

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
		r = r.WithContext(context.WithValue(r.Context(), actorKey{}, actorFrom(r)))
		if r.URL.Path == "/api/uploads" {
			r.URL.Path = UploadsPath
		}
		strip.ServeHTTP(w, r)
	}), nil
}

// tusFinish ingests a completed upload and removes its temporary files.
func (a *api) tusFinish(hook tushandler.HookEvent) (tushandler.HTTPResponse, error) {
	up := hook.Upload
	actor, ok := hook.Context.Value(actorKey{}).(glasshouse.Actor)
	if !ok || actor.User == "" {
		return tushandler.HTTPResponse{}, tusError(glasshouse.E("tus finish", auth.ErrUnauthenticated, nil, "upload without a signed-in caller"))
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
