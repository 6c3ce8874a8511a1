package httpapi

import (
	"strings"
	"testing"
)

func TestExportRoute(t *testing.T) {
	h := newHarness(t, Options{})
	rr := h.get("/api/assets/" + someID + "/export?format=vtt&download=1")
	if rr.Code != 200 || rr.Header().Get("Content-Type") != "text/vtt" || !strings.HasPrefix(rr.Body.String(), "WEBVTT") {
		t.Fatalf("vtt export: %d %q %q", rr.Code, rr.Header().Get("Content-Type"), rr.Body.String())
	}
	if cd := rr.Header().Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") {
		t.Errorf("Content-Disposition %q", cd)
	}
	if rr.Header().Get("ETag") != "" {
		t.Error("exports must not carry the original's ETag")
	}
	wantError(t, h.get("/api/assets/"+someID+"/export?format=docx"), 400, "invalid")
	wantError(t, h.get("/api/assets/not-an-id/export"), 400, "invalid")
}
