package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/glasshouse/glasshouse"
)

// assetReply is the reply to a single-file upload: the asset and whether it
// was already there.
type assetReply struct {
	*glasshouse.Asset
	Duplicate bool `json:"duplicate"`
}

// fileResult is the outcome of one file of a multipart upload.
type fileResult struct {
	Name      string            `json:"name"`
	Status    int               `json:"status"`
	Asset     *glasshouse.Asset `json:"asset,omitempty"`
	Duplicate bool              `json:"duplicate"`
	Error     *errorDetail      `json:"error,omitempty"`
}

// uploadFailure is the reply when a multipart body breaks off: the error and
// the files that were stored before it.
type uploadFailure struct {
	Error   errorDetail  `json:"error"`
	Results []fileResult `json:"results,omitempty"`
}

// countingReader counts the bytes read through it and remembers the first
// error other than io.EOF, so the API can tell a broken request body from
// an error of the service.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

// bodyError is an upload whose request body failed: cut off, too large or
// malformed. Nothing of that file may be stored.
type bodyError struct {
	err error
}

func (e *bodyError) Error() string { return e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// newBodyError classifies a failure to read the request body after n bytes
// of the file name.
func newBodyError(name string, n int64, cause error) error {
	var mbe *http.MaxBytesError
	if errors.As(cause, &mbe) {
		return &bodyError{glasshouse.E("upload", glasshouse.ErrTooLarge, cause,
			fmt.Sprintf("upload exceeds the limit of %d bytes", mbe.Limit))}
	}
	return &bodyError{glasshouse.E("upload", glasshouse.ErrInvalid, cause,
		fmt.Sprintf("upload of %q broke off after %d bytes (%v); the file was not stored", name, n, cause))}
}

func (a *api) upload(w http.ResponseWriter, r *http.Request) {
	actor := actorFrom(r)
	if max := a.opts.MaxUploadBytes; max > 0 {
		if r.ContentLength > max {
			a.writeError(w, r, "upload", glasshouse.Errorf("upload", glasshouse.ErrTooLarge,
				"upload of %d bytes exceeds the limit of %d bytes", r.ContentLength, max))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
	}
	body := &countingReader{r: r.Body}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil && strings.HasPrefix(mt, "multipart/") {
		a.uploadMultipart(w, r, actor, body, params["boundary"])
		return
	}
	a.uploadRaw(w, r, actor, body)
}

// ingest hands one file to the service, streaming src. If the request body
// failed while the service read it, the result is a *bodyError whatever the
// service said.
func (a *api) ingest(ctx context.Context, actor glasshouse.Actor, name, collection string, body *countingReader, src io.Reader) (*glasshouse.Asset, bool, error) {
	file := &countingReader{r: src}
	as, dup, err := a.svc.Ingest(ctx, actor, name, collection, file)
	cause := body.err
	if cause == nil {
		cause = file.err
	}
	if cause != nil {
		if err == nil {
			// The service must fail when its reader fails; say so loudly.
			a.log.ErrorContext(ctx, "service accepted an upload whose body failed",
				"name", name, "asset", assetIDOf(as), "body_err", cause)
		}
		return nil, false, newBodyError(name, file.n, cause)
	}
	if err != nil {
		return nil, false, err
	}
	if as == nil {
		return nil, false, glasshouse.Errorf("upload", nil, "service returned no asset for %q", name)
	}
	return as, dup, nil
}

func assetIDOf(a *glasshouse.Asset) glasshouse.AssetID {
	if a == nil {
		return ""
	}
	return a.ID
}

// uploadRaw stores the request body as one file named by ?name= (or the
// Content-Disposition filename).
func (a *api) uploadRaw(w http.ResponseWriter, r *http.Request, actor glasshouse.Actor, body *countingReader) {
	q := r.URL.Query()
	name := q.Get("name")
	if name == "" {
		if _, p, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err == nil {
			name = p["filename"]
		}
	}
	if name == "" {
		name = "upload"
	}
	as, dup, err := a.ingest(r.Context(), actor, name, q.Get("collection"), body, body)
	if err != nil {
		a.writeError(w, r, "upload", err)
		return
	}
	status := http.StatusCreated
	if dup {
		status = http.StatusOK
	}
	w.Header().Set("Location", "/api/assets/"+string(as.ID))
	writeJSON(w, status, assetReply{Asset: as, Duplicate: dup})
}

// maxFieldBytes bounds a non-file form field (collection).
const maxFieldBytes = 1024

// uploadMultipart streams each "file" part of a multipart/form-data body
// into the service, one after the other, without buffering. A "collection"
// field applies to the files after it (default: ?collection=).
func (a *api) uploadMultipart(w http.ResponseWriter, r *http.Request, actor glasshouse.Actor, body *countingReader, boundary string) {
	if boundary == "" {
		a.writeError(w, r, "upload", glasshouse.Errorf("upload", glasshouse.ErrInvalid, "multipart upload without a boundary"))
		return
	}
	ctx := r.Context()
	mr := multipart.NewReader(body, boundary)
	collection := r.URL.Query().Get("collection")
	results := []fileResult{}
	fail := func(err error) {
		status, d := describe(err)
		if stored := countStored(results); stored > 0 {
			d.Message += fmt.Sprintf("; %d earlier file(s) of this request were stored", stored)
		}
		a.log.InfoContext(ctx, "upload failed", "err", err, "request_id", requestID(ctx))
		closeIfTooLarge(w, status)
		writeJSON(w, status, uploadFailure{Error: d, Results: results})
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			if body.err != nil {
				fail(newBodyError("multipart body", body.n, body.err))
			} else if errors.Is(err, io.ErrUnexpectedEOF) {
				fail(newBodyError("multipart body", body.n, err))
			} else {
				fail(glasshouse.E("upload", glasshouse.ErrInvalid, err, "malformed multipart body: "+err.Error()))
			}
			return
		}
		switch part.FormName() {
		case "file":
			name := part.FileName()
			if name == "" {
				name = "upload"
			}
			as, dup, err := a.ingest(ctx, actor, name, collection, body, part)
			var be *bodyError
			if errors.As(err, &be) {
				fail(err)
				return
			}
			res := fileResult{Name: name, Asset: as, Duplicate: dup, Status: http.StatusCreated}
			if dup {
				res.Status = http.StatusOK
			}
			if err != nil {
				status, d := describe(err)
				if status == http.StatusInternalServerError {
					a.log.ErrorContext(ctx, "upload failed", "name", name, "err", err, "request_id", requestID(ctx))
				}
				res.Status, res.Error = status, &d
			}
			results = append(results, res)
		case "collection":
			v, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
			if err != nil {
				fail(newBodyError("collection field", body.n, err))
				return
			}
			if len(v) > maxFieldBytes {
				fail(glasshouse.Errorf("upload", glasshouse.ErrInvalid, "collection field is longer than %d bytes", maxFieldBytes))
				return
			}
			collection = strings.TrimSpace(string(v))
		default:
			if _, err := io.Copy(io.Discard, part); err != nil {
				fail(newBodyError("form field "+part.FormName(), body.n, err))
				return
			}
		}
		_ = part.Close()
	}
	if len(results) == 0 {
		a.writeError(w, r, "upload", glasshouse.Errorf("upload", glasshouse.ErrInvalid, `multipart upload has no "file" part`))
		return
	}
	writeJSON(w, multiStatus(results), results)
}

func countStored(rs []fileResult) int {
	n := 0
	for _, r := range rs {
		if r.Error == nil && !r.Duplicate {
			n++
		}
	}
	return n
}

// multiStatus is 201 if any file was stored, else 200 if any was a
// duplicate, else the status of the first failure.
func multiStatus(rs []fileResult) int {
	status := 0
	for _, r := range rs {
		switch {
		case r.Status == http.StatusCreated:
			return http.StatusCreated
		case r.Status == http.StatusOK:
			status = http.StatusOK
		case status == 0:
			status = r.Status
		}
	}
	return status
}
