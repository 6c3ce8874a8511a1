package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/redact"
)

// Redactor is what the redaction routes need from the service (package app
// implements it). A Service without it answers those routes "unavailable".
type Redactor interface {
	RedactionPlan(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID) (*redact.Plan, error)
	SaveRedactionPlan(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID, p *redact.Plan) (*redact.Plan, error)
	// StartRedaction queues a render with plan (nil: the saved plan, or the
	// default one).
	StartRedaction(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID, plan *redact.Plan) (*redact.Render, error)
	Redaction(ctx context.Context, actor glasshouse.Actor, rid string) (*redact.Render, error)
	Redactions(ctx context.Context, actor glasshouse.Actor, id glasshouse.AssetID) ([]*redact.Render, error)
	RedactionManifest(ctx context.Context, actor glasshouse.Actor, rid string) (*glasshouse.Content, error)
}

func (a *api) redactor(w http.ResponseWriter, r *http.Request, op string) (Redactor, bool) {
	rd, ok := a.svc.(Redactor)
	if !ok {
		a.writeError(w, r, op, glasshouse.Errorf(op, glasshouse.ErrUnavailable, "redaction is not available on this server"))
	}
	return rd, ok
}

// readPlan decodes a plan body; an empty body is a nil plan.
func readPlan(w http.ResponseWriter, r *http.Request, op string) (*redact.Plan, error) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<20))
	dec.DisallowUnknownFields()
	var p redact.Plan
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, glasshouse.Errorf(op, glasshouse.ErrInvalid, "body must be a redaction plan in JSON: %v", err)
	}
	return &p, nil
}

func (a *api) getRedactionPlan(w http.ResponseWriter, r *http.Request) {
	const op = "redaction plan"
	rd, ok := a.redactor(w, r, op)
	if !ok {
		return
	}
	id, ok := a.assetID(w, r)
	if !ok {
		return
	}
	p, err := rd.RedactionPlan(r.Context(), actorFrom(r), id)
	if err != nil {
		a.writeError(w, r, op, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (a *api) putRedactionPlan(w http.ResponseWriter, r *http.Request) {
	const op = "save redaction plan"
	rd, ok := a.redactor(w, r, op)
	if !ok {
		return
	}
	id, ok := a.assetID(w, r)
	if !ok {
		return
	}
	p, err := readPlan(w, r, op)
	if err == nil && p == nil {
		err = glasshouse.Errorf(op, glasshouse.ErrInvalid, "no plan in the body")
	}
	if err != nil {
		a.writeError(w, r, op, err)
		return
	}
	p, err = rd.SaveRedactionPlan(r.Context(), actorFrom(r), id, p)
	if err != nil {
		a.writeError(w, r, op, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (a *api) startRedaction(w http.ResponseWriter, r *http.Request) {
	const op = "start redaction"
	rd, ok := a.redactor(w, r, op)
	if !ok {
		return
	}
	id, ok := a.assetID(w, r)
	if !ok {
		return
	}
	p, err := readPlan(w, r, op)
	if err != nil {
		a.writeError(w, r, op, err)
		return
	}
	rn, err := rd.StartRedaction(r.Context(), actorFrom(r), id, p)
	if err != nil {
		a.writeError(w, r, op, err)
		return
	}
	w.Header().Set("Location", "/api/redactions/"+rn.ID)
	writeJSON(w, http.StatusAccepted, rn)
}

func (a *api) listRedactions(w http.ResponseWriter, r *http.Request) {
	const op = "list redactions"
	rd, ok := a.redactor(w, r, op)
	if !ok {
		return
	}
	id, ok := a.assetID(w, r)
	if !ok {
		return
	}
	list, err := rd.Redactions(r.Context(), actorFrom(r), id)
	if err != nil {
		a.writeError(w, r, op, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"redactions": list})
}

func (a *api) getRedaction(w http.ResponseWriter, r *http.Request) {
	const op = "redaction"
	rd, ok := a.redactor(w, r, op)
	if !ok {
		return
	}
	rn, err := rd.Redaction(r.Context(), actorFrom(r), r.PathValue("rid"))
	if err != nil {
		a.writeError(w, r, op, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, rn)
}

func (a *api) redactionManifest(w http.ResponseWriter, r *http.Request) {
	const op = "redaction manifest"
	rd, ok := a.redactor(w, r, op)
	if !ok {
		return
	}
	c, err := rd.RedactionManifest(r.Context(), actorFrom(r), r.PathValue("rid"))
	if err != nil {
		a.writeError(w, r, op, err)
		return
	}
	defer c.Close()
	a.serveContent(w, r, c, "redaction-manifest.json", "private, no-cache")
}
