package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// A service without redaction answers the redaction routes 503 with a
// message, not 404 or 500 (the real service is tested in webtest and app).
func TestRedactionRoutesUnavailable(t *testing.T) {
	h := newHarness(t, Options{})
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/api/assets/" + someID + "/redaction", ""},
		{"PUT", "/api/assets/" + someID + "/redaction", `{"faces": true}`},
		{"POST", "/api/assets/" + someID + "/redactions", ""},
		{"GET", "/api/assets/" + someID + "/redactions", ""},
		{"GET", "/api/redactions/r1", ""},
		{"GET", "/api/redactions/r1/manifest", ""},
	} {
		rr := h.do(httptest.NewRequest(c.method, c.path, strings.NewReader(c.body)))
		d := wantError(t, rr, 503, "unavailable")
		if !strings.Contains(d.Message, "redaction") {
			t.Errorf("%s %s: message %q", c.method, c.path, d.Message)
		}
	}
}
