package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/analyze/keywords"
	"github.com/glasshouse/glasshouse/analyze/ocr"
	"github.com/glasshouse/glasshouse/analyze/probe"
	"github.com/glasshouse/glasshouse/analyze/shots"
	"github.com/glasshouse/glasshouse/analyze/speech"
	"github.com/glasshouse/glasshouse/app"
	"github.com/glasshouse/glasshouse/audit"
	"github.com/glasshouse/glasshouse/media"
	"github.com/glasshouse/glasshouse/search"
	"github.com/glasshouse/glasshouse/sqlite"
)

var actor = glasshouse.Actor{Tenant: glasshouse.DefaultTenant, User: "tester"}

func ffmpeg(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("ffmpeg", append([]string{"-v", "error", "-y"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
}

const font = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

// captionVideo writes an 8 s video: two shots (different backgrounds, a
// hard cut at 4 s) with a caption each, and synthetic speech.
func captionVideo(t *testing.T, dir string) string {
	t.Helper()
	if _, err := os.Stat(font); err != nil {
		t.Skip("fonts-dejavu-core not installed")
	}
	p := filepath.Join(dir, "briefing.mp4")
	dt := func(text string) string {
		return "drawtext=fontfile=" + font + ":text='" + text + "':fontsize=48:fontcolor=white:box=1:boxcolor=black@0.8:x=(w-tw)/2:y=h-120"
	}
	ffmpeg(t,
		"-f", "lavfi", "-i", "color=c=navy:size=1280x720:rate=25:duration=4,"+dt("EVACUATION ROUTE NORTH"),
		"-f", "lavfi", "-i", "color=c=darkgreen:size=1280x720:rate=25:duration=4,"+dt("CITY COUNCIL MEETING"),
		"-f", "lavfi", "-i", "flite=text='the council will meet at noon to discuss the evacuation':voice=slt",
		"-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0[v];[2:a]aresample=16000,apad,atrim=0:8[a]",
		"-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-t", "8", p)
	return p
}

func openApp(t *testing.T, dir string, ans []glasshouse.Analyzer) *app.App {
	t.Helper()
	a, err := app.Open(context.Background(), app.Config{
		DataDir:   dir,
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Analyzers: ans,
		Derived:   []glasshouse.Analyzer{keywords.New()},
		Lease:     time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func analyzers(t *testing.T) []glasshouse.Analyzer {
	t.Helper()
	o, err := ocr.New(ocr.Config{})
	if err != nil {
		t.Fatal(err)
	}
	sp, err := speech.New(speech.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !o.Model().Available || !sp.Model().Available {
		t.Skipf("engines missing: ocr %q speech %q (run scripts/setup.sh)", o.Model().Problem, sp.Model().Problem)
	}
	return []glasshouse.Analyzer{probe.New(media.Limits{}), shots.New(media.Limits{}, shots.Options{}), o, sp}
}

// TestPipelineSearchDelete runs the whole embedded pipeline on a generated
// video: ingest, every analyzer, search landing in the right shot, the
// audit chain, and deletion removing index entries and blobs.
func TestPipelineSearchDelete(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	video := captionVideo(t, dir)
	a := openApp(t, filepath.Join(dir, "data"), analyzers(t))
	defer a.Close()
	f, err := os.Open(video)
	if err != nil {
		t.Fatal(err)
	}
	as, dup, err := a.Ingest(ctx, actor, "briefing.mp4", "news", f)
	f.Close()
	if err != nil || dup {
		t.Fatalf("ingest: %v dup=%v", err, dup)
	}
	if err := a.RunPending(ctx); err != nil {
		t.Fatal(err)
	}
	jobs, err := a.Jobs(ctx, actor, as.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 4 {
		t.Fatalf("%d jobs, want 4", len(jobs))
	}
	for _, j := range jobs {
		if j.State != glasshouse.JobDone || j.Attempts != 1 {
			t.Errorf("job %s: state %s attempts %d (%s)", j.Kind, j.State, j.Attempts, j.LastError)
		}
	}
	ins, err := a.Insights(ctx, actor, as.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ins.Shots) != 2 || len(ins.Keyframes) < 2 || len(ins.OCR) < 2 || len(ins.Transcript) == 0 || len(ins.Keywords) == 0 {
		t.Fatalf("insights incomplete: %d shots %d keyframes %d ocr %d transcript %d keywords", len(ins.Shots), len(ins.Keyframes), len(ins.OCR), len(ins.Transcript), len(ins.Keywords))
	}
	got, err := a.GetAsset(ctx, actor, as.ID)
	if err != nil {
		t.Fatal(err)
	}
	page, err := a.ListAssets(ctx, actor, glasshouse.AssetFilter{})
	if err != nil || len(page.Assets) != 1 || len(page.Assets[0].Runs) != len(got.Runs) {
		t.Errorf("listing does not carry the analyzer runs: %v %+v", err, page)
	}
	runs := map[string]glasshouse.AnalyzerRun{}
	for _, r := range got.Runs {
		runs[r.Name] = r
	}
	for _, n := range []string{"probe", "shots", "ocr", "speech", "keywords"} {
		if runs[n].State != glasshouse.JobDone || runs[n].Version == "" {
			t.Errorf("run record of %s: %+v", n, runs[n])
		}
	}
	if runs["ocr"].ModelSHA256 == "" || runs["speech"].ModelSHA256 == "" {
		t.Errorf("model checksums not recorded: %+v %+v", runs["ocr"], runs["speech"])
	}

	// On-screen text lands in the second shot, with a thumbnail of that shot.
	hits, err := a.Search(ctx, actor, search.Query{Text: "in:text council"})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits.Assets) != 1 || len(hits.Assets[0].Hits) == 0 {
		t.Fatalf("search council: %+v", hits)
	}
	h := hits.Assets[0].Hits[0]
	if h.Kind != glasshouse.SegText || h.StartMS < 3500 || h.StartMS > 4500 || !strings.Contains(strings.ToLower(h.Snippet), "<mark>council</mark>") {
		t.Errorf("hit %+v: want OCR text starting at the 4 s cut", h)
	}
	var shot2 glasshouse.Keyframe
	for _, k := range ins.Keyframes {
		if k.Shot == ins.Shots[1].Index {
			shot2 = k
		}
	}
	if h.Thumb == "" || h.Thumb != shot2.Thumb {
		t.Errorf("hit thumbnail %q, want the second shot's keyframe %q", h.Thumb, shot2.Thumb)
	}
	// Spoken words are found too.
	hits, err = a.Search(ctx, actor, search.Query{Text: "in:speech noon OR council OR evacuation"})
	if err != nil {
		t.Fatal(err)
	}
	if hits.Total != 1 {
		t.Errorf("speech search found %d assets; transcript %q", hits.Total, search.Tokenize(ins.Transcript[0].Text))
	}
	// A malformed query names the position.
	if _, err := a.Search(ctx, actor, search.Query{Text: `"council`}); !errors.Is(err, glasshouse.ErrInvalid) || !strings.Contains(err.Error(), "at 0") {
		t.Errorf("bad query error: %v", err)
	}
	// Another tenant sees nothing.
	other := glasshouse.Actor{Tenant: "other", User: "x"}
	if hits, err := a.Search(ctx, other, search.Query{Text: "council"}); err != nil || hits.Total != 0 {
		t.Errorf("other tenant search: %+v %v", hits, err)
	}
	if _, err := a.GetAsset(ctx, other, as.ID); !errors.Is(err, glasshouse.ErrNotExist) {
		t.Errorf("other tenant get: %v", err)
	}
	if _, err := a.OpenBlob(ctx, other, shot2.Thumb); !errors.Is(err, glasshouse.ErrNotExist) {
		t.Errorf("other tenant blob: %v", err)
	}

	// A user note is searchable, and moving the asset to another collection
	// moves its hits.
	note, coll := "interview with the harbour master", "archive"
	if _, err := a.PatchAsset(ctx, actor, as.ID, &note, &coll); err != nil {
		t.Fatal(err)
	}
	if hits, err := a.Search(ctx, actor, search.Query{Text: "in:note harbour"}); err != nil || hits.Total != 1 {
		t.Errorf("note search: %+v %v", hits, err)
	}
	if hits, err := a.Search(ctx, actor, search.Query{Text: "council", Collections: []string{"news"}}); err != nil || hits.Total != 0 {
		t.Errorf("old collection still has hits: %+v %v", hits, err)
	}
	if hits, err := a.Search(ctx, actor, search.Query{Text: "collection:archive council"}); err != nil || hits.Total != 1 {
		t.Errorf("new collection search: %+v %v", hits, err)
	}

	// Deletion removes index entries and every blob (original, thumbs, keyframes).
	if err := a.DeleteAsset(ctx, actor, as.ID); err != nil {
		t.Fatal(err)
	}
	if hits, err := a.Search(ctx, actor, search.Query{Text: "council"}); err != nil || hits.Total != 0 {
		t.Errorf("search after delete: %+v %v", hits, err)
	}
	for _, ref := range []glasshouse.Ref{as.Hash, as.Thumb, shot2.Image, shot2.Thumb} {
		if _, err := a.Blobs().Stat(ctx, ref); !errors.Is(err, glasshouse.ErrNotExist) {
			t.Errorf("blob %s still stored after delete: %v", ref, err)
		}
	}
	// Every step is on the record, and the chain verifies.
	evs, err := a.AuditEvents(ctx, actor, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range evs {
		seen[e.Action]++
	}
	for _, act := range []string{"upload", "analyze", "view", "view_insights", "search", "update", "delete"} {
		if seen[act] == 0 {
			t.Errorf("no %q audit event; have %v", act, seen)
		}
	}
	db := a.DB().(*sqlite.DB)
	rep, err := audit.Verify(ctx, db)
	if err != nil || !rep.OK {
		t.Errorf("audit verify: %+v %v", rep, err)
	}
}

// bumped is the real probe analyzer reporting a newer version, as a
// release that changes it would.
type bumped struct{ *probe.Analyzer }

func (bumped) Version() string { return "2" }

// TestVersionBumpReplacesResults checks that a new analyzer version is
// queued for old assets and its result replaces the old one.
func TestVersionBumpReplacesResults(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	img := filepath.Join(dir, "still.png")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", img)
	data := filepath.Join(dir, "data")
	a := openApp(t, data, []glasshouse.Analyzer{probe.New(media.Limits{})})
	b, _ := os.ReadFile(img)
	as, _, err := a.Ingest(ctx, actor, "still.png", "", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.RunPending(ctx); err != nil {
		t.Fatal(err)
	}
	a.Close()

	a = openApp(t, data, []glasshouse.Analyzer{bumped{probe.New(media.Limits{})}})
	defer a.Close()
	n, err := a.EnqueueMissing(ctx)
	if err != nil || n != 1 {
		t.Fatalf("EnqueueMissing: %d %v, want 1 job", n, err)
	}
	if n, _ := a.EnqueueMissing(ctx); n != 0 {
		t.Errorf("second EnqueueMissing queued %d, want 0", n)
	}
	if err := a.RunPending(ctx); err != nil {
		t.Fatal(err)
	}
	rs, err := a.DB().Results(ctx, actor.Tenant, as.ID)
	if err != nil {
		t.Fatal(err)
	}
	var probes []*glasshouse.Result
	for _, r := range rs {
		if r.Run.Name == "probe" {
			probes = append(probes, r)
		}
	}
	if len(probes) != 1 || probes[0].Run.Version != "2" || probes[0].Insights.Probe == nil {
		t.Fatalf("probe results after bump: %d, want one of version 2", len(probes))
	}
}

func TestIngestRejectsAndKeepsStore(t *testing.T) {
	ctx := context.Background()
	a := openApp(t, t.TempDir(), nil)
	defer a.Close()
	for _, c := range []struct {
		name, body string
		kind       error
	}{
		{"empty.jpg", "", glasshouse.ErrInvalid},
		{"page.mp4", "<html>not a video</html>", glasshouse.ErrUnsupported},
		{"bad\x1bname.wav", "RIFF", glasshouse.ErrInvalid},
		{"../../..", "x", glasshouse.ErrInvalid},
	} {
		_, _, err := a.Ingest(ctx, actor, c.name, "", strings.NewReader(c.body))
		if !errors.Is(err, c.kind) {
			t.Errorf("%q: err %v, want kind %v", c.name, err, c.kind)
		}
	}
	// A name with directory parts is stored under its base name.
	dir := t.TempDir()
	ffmpeg(t, "-f", "lavfi", "-i", "sine=duration=1", filepath.Join(dir, "x.wav"))
	b, _ := os.ReadFile(filepath.Join(dir, "x.wav"))
	as, _, err := a.Ingest(ctx, actor, "../../etc/passwd.wav", "", bytes.NewReader(b))
	if err != nil || as.Name != "passwd.wav" {
		t.Fatalf("sanitised name: %v %+v", err, as)
	}
	// An upload cut off half-way stores nothing and leaves the rest intact.
	_, _, err = a.Ingest(ctx, actor, "cut.wav", "", &failingReader{data: b, failAt: len(b) / 2})
	if err == nil {
		t.Fatal("cut-off upload accepted")
	}
	page, err := a.ListAssets(ctx, actor, glasshouse.AssetFilter{})
	if err != nil || len(page.Assets) != 1 {
		t.Fatalf("assets after bad input: %v %+v", err, page)
	}
	c, err := a.OpenContent(ctx, actor, as.ID, "original")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var buf bytes.Buffer
	buf.ReadFrom(c)
	if !bytes.Equal(buf.Bytes(), b) {
		t.Error("stored content changed")
	}
}

type failingReader struct {
	data   []byte
	failAt int
	off    int
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.off >= r.failAt {
		return 0, errors.New("connection reset by peer")
	}
	n := copy(p, r.data[r.off:r.failAt])
	r.off += n
	return n, nil
}

// bumpedShots is the real shots analyzer at a new version with other
// keyframe sizes, so its keyframe blobs differ from version 1's.
type bumpedShots struct{ *shots.Analyzer }

func (bumpedShots) Version() string { return "2" }

// TestRerunDeletesReplacedBlobs checks that keyframes of a replaced result
// are deleted from the blob store, and the new ones are stored.
func TestRerunDeletesReplacedBlobs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	video := filepath.Join(dir, "v.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=10:duration=3", "-c:v", "libx264", "-pix_fmt", "yuv420p", video)
	data := filepath.Join(dir, "data")
	a := openApp(t, data, []glasshouse.Analyzer{shots.New(media.Limits{}, shots.Options{})})
	b, _ := os.ReadFile(video)
	as, _, err := a.Ingest(ctx, actor, "v.mp4", "", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.RunPending(ctx); err != nil {
		t.Fatal(err)
	}
	keyframes := func() []glasshouse.Keyframe {
		ins, err := a.Insights(ctx, actor, as.ID)
		if err != nil {
			t.Fatal(err)
		}
		return ins.Keyframes
	}
	old := keyframes()
	if len(old) == 0 {
		t.Fatal("no keyframes")
	}
	a.Close()
	a = openApp(t, data, []glasshouse.Analyzer{bumpedShots{shots.New(media.Limits{}, shots.Options{ImageWidth: 480, ThumbWidth: 200})}})
	defer a.Close()
	if _, err := a.EnqueueMissing(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.RunPending(ctx); err != nil {
		t.Fatal(err)
	}
	now := keyframes()
	if len(now) == 0 || now[0].Image == old[0].Image {
		t.Fatalf("keyframes not replaced: %+v", now)
	}
	for _, k := range old {
		if _, err := a.Blobs().Stat(ctx, k.Image); !errors.Is(err, glasshouse.ErrNotExist) {
			t.Errorf("replaced keyframe %s still stored (%v)", k.Image, err)
		}
	}
	for _, k := range now {
		if _, err := a.Blobs().Stat(ctx, k.Image); err != nil {
			t.Errorf("new keyframe %s: %v", k.Image, err)
		}
	}
}

// TestExports runs real OCR and speech on a generated video and checks the
// captions, CSV and JSON exports, and that exports are audited.
func TestExports(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	video := captionVideo(t, dir)
	all := analyzers(t)
	a := openApp(t, filepath.Join(dir, "data"), []glasshouse.Analyzer{all[0], all[2], all[3]}) // probe, ocr, speech
	defer a.Close()
	f, _ := os.Open(video)
	as, _, err := a.Ingest(ctx, actor, "briefing.mp4", "", f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.RunPending(ctx); err != nil {
		t.Fatal(err)
	}
	read := func(format string) string {
		t.Helper()
		c, err := a.Export(ctx, actor, as.ID, format)
		if err != nil {
			t.Fatalf("export %s: %v", format, err)
		}
		defer c.Close()
		var b bytes.Buffer
		b.ReadFrom(c)
		if int64(b.Len()) != c.Size || c.Name != "briefing."+format {
			t.Errorf("export %s: size %d/%d name %q", format, b.Len(), c.Size, c.Name)
		}
		return b.String()
	}
	ins, _ := a.Insights(ctx, actor, as.ID)
	var spoken []string
	for _, s := range ins.Transcript {
		spoken = append(spoken, strings.Fields(s.Text)...)
	}
	if len(spoken) == 0 {
		t.Fatal("no transcript")
	}
	vtt := read("vtt")
	if !strings.HasPrefix(vtt, "WEBVTT\n") {
		t.Fatalf("vtt: %q", vtt)
	}
	var cueWords []string
	last := ""
	for _, block := range strings.Split(strings.TrimSpace(vtt), "\n\n")[1:] {
		lines := strings.Split(block, "\n")
		times := strings.Split(lines[0], " --> ")
		if len(times) != 2 || times[0] >= times[1] || times[0] < last {
			t.Errorf("bad cue timing %q", lines[0])
		}
		last = times[1]
		for _, l := range lines[1:] {
			cueWords = append(cueWords, strings.Fields(l)...)
		}
	}
	if strings.Join(cueWords, " ") != strings.Join(spoken, " ") {
		t.Errorf("captions %q, transcript %q", cueWords, spoken)
	}
	if srt := read("srt"); !strings.HasPrefix(srt, "1\n00:00:") || !strings.Contains(srt, ",") {
		t.Errorf("srt: %q", srt)
	}
	csvText := read("csv")
	if !strings.HasPrefix(csvText, "type,start_ms,end_ms,text,confidence,box\n") || !strings.Contains(csvText, "COUNCIL") {
		t.Errorf("csv: %q", csvText)
	}
	if want := 1 + len(ins.Transcript) + len(ins.OCR); strings.Count(csvText, "\n") < want {
		t.Errorf("csv has %d lines, want at least %d", strings.Count(csvText, "\n"), want)
	}
	var doc struct {
		Asset    glasshouse.Asset    `json:"asset"`
		Insights glasshouse.Insights `json:"insights"`
	}
	if err := json.Unmarshal([]byte(read("json")), &doc); err != nil || doc.Asset.ID != as.ID || len(doc.Insights.OCR) != len(ins.OCR) {
		t.Errorf("json export: %v %+v", err, doc.Asset)
	}
	if _, err := a.Export(ctx, actor, as.ID, "docx"); !errors.Is(err, glasshouse.ErrInvalid) {
		t.Errorf("unknown format: %v", err)
	}
	evs, _ := a.AuditEvents(ctx, actor, 0, 0)
	n := 0
	for _, e := range evs {
		if e.Action == "export" {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d export audit events, want 4", n)
	}
}

// TestFailedCreateLeavesNoBlobs: when the catalog refuses the asset (here:
// no tenant), neither the original nor its thumbnail and poster stay stored.
func TestFailedCreateLeavesNoBlobs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", filepath.Join(dir, "p.png"))
	b, _ := os.ReadFile(filepath.Join(dir, "p.png"))
	data := filepath.Join(dir, "data")
	a := openApp(t, data, nil)
	defer a.Close()
	if _, _, err := a.Ingest(ctx, glasshouse.Actor{User: "nobody"}, "p.png", "", bytes.NewReader(b)); err == nil {
		t.Fatal("ingest without a tenant succeeded")
	}
	var left []string
	filepath.Walk(filepath.Join(data, "blobs", "sha256"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) != 0 {
		t.Errorf("blobs left after a refused asset: %v", left)
	}
}
