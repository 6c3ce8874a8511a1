package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse/redact"
)

// TestRedactCLI: `glasshouse redact` with a box, a time range and a fill
// renders a copy into the data folder and prints the render as JSON; bad
// flags are refused naming the problem.
func TestRedactCLI(t *testing.T) {
	dir := t.TempDir()
	clip := filepath.Join(dir, "clip.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2", "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
		"-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", clip)
	data := filepath.Join(dir, "data")
	out, stderr, code := runCLI(t, "ingest", "--data", data, "--json", clip)
	if code != 0 {
		t.Fatalf("ingest: %d %s", code, stderr)
	}
	id := parseIngestJSON(t, out)["clip.mp4"].Asset.ID
	_, stderr, code = runCLI(t, "redact", "--data", data, "--no-faces", "--box", "0.1,0.1,2,0.2", string(id))
	if code != 1 || !strings.Contains(stderr, "not inside the picture") {
		t.Fatalf("bad box: exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = runCLI(t, "redact", "--data", data, "--no-faces", "--box", "0.1,0.1", string(id))
	if code != 2 || !strings.Contains(stderr, "x,y,w,h") {
		t.Fatalf("malformed box: exit %d, stderr %q", code, stderr)
	}
	out, stderr, code = runCLI(t, "redact", "--data", data, "--no-faces", "--no-progress", "--json", "--fill", "blur",
		"--box", "0.25,0.25,0.5,0.5@0.5-1.5", "--range", "0.2-0.8", "--bleep", string(id))
	if code != 0 {
		t.Fatalf("redact: exit %d, stderr %s", code, stderr)
	}
	var r redact.Render
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("output is not a render: %v\n%s", err, out)
	}
	var m redact.Manifest
	if err := json.Unmarshal(r.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	if r.State != redact.StateDone || r.Output == "" || m.Settings.Fill != redact.FillBlur || len(m.Regions) != 1 ||
		m.Regions[0].StartMS != 500 || len(m.Audio) != 1 || m.Audio[0].Mode != redact.AudioBleep || m.Frames != 50 {
		t.Fatalf("render %+v manifest %+v", r, m)
	}
	out, _, code = runCLI(t, "show", "--data", data, string(r.Output))
	if code != 0 || !strings.Contains(out, "(redacted)") {
		t.Fatalf("show the copy: %d %s", code, out)
	}
}
