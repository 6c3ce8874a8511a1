package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
)

type ctxKey int

const requestIDKey ctxKey = iota

// requestID returns the id the middleware gave the request ("" outside it).
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// middleware gives each request an id (X-Request-Id), logs it when done
// (method, path, status, bytes, duration) and turns a panic into a JSON 500.
func (a *api) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newRequestID()
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
		w.Header().Set("X-Request-Id", id)
		rec := &recorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				a.log.ErrorContext(r.Context(), "panic in handler", "panic", fmt.Sprint(p),
					"method", r.Method, "path", r.URL.Path, "request_id", id, "stack", string(debug.Stack()))
				if !rec.wrote {
					writeErrorCode(rec, http.StatusInternalServerError, "internal", "internal error (request "+id+")")
				}
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			level := levelFor(status)
			a.log.Log(r.Context(), level, "http request",
				"method", r.Method, "path", r.URL.Path, "status", status, "bytes", rec.bytes,
				"duration", time.Since(start), "remote", r.RemoteAddr, "user", rec.user, "request_id", id)
		}()
		next.ServeHTTP(rec, r)
	})
}

// recorder remembers the status and counts the body bytes written.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
	user   string // the authenticated caller, for the log
}

// noteUser records the caller in the request log, if w is (or wraps) the
// middleware's recorder.
func noteUser(w http.ResponseWriter, user string) {
	for w != nil {
		if rec, ok := w.(*recorder); ok {
			rec.user = user
			return
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return
		}
		w = u.Unwrap()
	}
}

func (rw *recorder) WriteHeader(code int) {
	if !rw.wrote {
		// 1xx responses are informational; the real status follows.
		if code >= 200 {
			rw.wrote = true
			rw.status = code
		}
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recorder) Write(p []byte) (int, error) {
	if !rw.wrote {
		rw.wrote = true
		rw.status = http.StatusOK
	}
	n, err := rw.ResponseWriter.Write(p)
	rw.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (flush, deadlines).
func (rw *recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// Flush supports streaming responses through the wrapper.
func (rw *recorder) Flush() {
	if f, ok := rw.ResponseWriter.(http.Flusher); ok {
		if !rw.wrote {
			rw.wrote, rw.status = true, http.StatusOK
		}
		f.Flush()
	}
}

func levelFor(status int) slog.Level {
	if status >= 500 {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}
