package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/auth"
)

// errorBody is the JSON shape of every error response:
// {"error":{"code":"not_found","message":"asset ... not found"}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// statusFor maps a glasshouse.ErrorCode to an HTTP status.
func statusFor(code string) int {
	switch code {
	case "not_found":
		return http.StatusNotFound
	case "invalid":
		return http.StatusBadRequest
	case "unsupported_media":
		return http.StatusUnsupportedMediaType
	case "too_large":
		return http.StatusRequestEntityTooLarge
	case "permission_denied":
		return http.StatusForbidden
	case "conflict", "already_exists":
		return http.StatusConflict
	case "corrupt":
		return http.StatusUnprocessableEntity
	case "unavailable", "canceled":
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// describe turns err into the code, status and message the client sees.
// Internal errors are reported without detail; the caller logs them.
func describe(err error) (status int, d errorDetail) {
	if errors.Is(err, auth.ErrUnauthenticated) {
		return http.StatusUnauthorized, errorDetail{Code: "unauthenticated", Message: publicMessage(err)}
	}
	code := glasshouse.ErrorCode(err)
	status = statusFor(code)
	if status == http.StatusInternalServerError {
		return status, errorDetail{Code: "internal", Message: "internal error"}
	}
	return status, errorDetail{Code: code, Message: publicMessage(err)}
}

// publicMessage prefers the human message of the first *glasshouse.Error
// in err's tree that has one (it names the problem without the operation
// chain), else err's text.
func publicMessage(err error) string {
	if m := findMsg(err); m != "" {
		return m
	}
	return err.Error()
}

func findMsg(err error) string {
	for err != nil {
		if e, ok := err.(*glasshouse.Error); ok && e.Msg != "" {
			return e.Msg
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				if m := findMsg(inner); m != "" {
					return m
				}
			}
			return ""
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return ""
		}
	}
	return ""
}

// writeError answers with err as JSON. 5xx errors are logged with their
// full text and the request id, which the client sees in its message.
func (a *api) writeError(w http.ResponseWriter, r *http.Request, op string, err error) {
	status, d := describe(err)
	switch {
	case status == http.StatusInternalServerError:
		id := requestID(r.Context())
		a.log.ErrorContext(r.Context(), "request failed", "op", op, "err", err, "request_id", id)
		if id != "" {
			d.Message = "internal error (request " + id + ")"
		}
	case status >= 500:
		a.log.WarnContext(r.Context(), "request failed", "op", op, "err", err, "request_id", requestID(r.Context()))
	default:
		a.log.DebugContext(r.Context(), "request rejected", "op", op, "err", err)
	}
	closeIfTooLarge(w, status)
	writeJSON(w, status, errorBody{Error: d})
}

// closeIfTooLarge asks the server to drop the connection after a 413: the
// rest of the oversized body is still on the wire and is not worth reading.
func closeIfTooLarge(w http.ResponseWriter, status int) {
	if status == http.StatusRequestEntityTooLarge {
		w.Header().Set("Connection", "close")
	}
}

// writeErrorCode answers with an error that has no Go error behind it.
func writeErrorCode(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: msg}})
}

// writeJSON writes v with status. Encoding errors can only come from the
// connection at this point, so they are dropped.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b, status = []byte(`{"error":{"code":"internal","message":"internal error"}}`), http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
