package shots_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"image"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/glasshouse/glasshouse"
	"github.com/glasshouse/glasshouse/analyze/shots"
	"github.com/glasshouse/glasshouse/media"
)

var limits = media.Limits{Timeout: 5 * time.Minute, MaxBytes: 4 << 30}

// testMemBlobs is a TEST HELPER: a content-addressed in-memory
// glasshouse.BlobStore, standing in for the real blob store in these tests.
type testMemBlobs struct {
	mu    sync.Mutex
	blobs map[glasshouse.Ref][]byte
}

func newTestMemBlobs() *testMemBlobs { return &testMemBlobs{blobs: map[glasshouse.Ref][]byte{}} }

func (m *testMemBlobs) Put(ctx context.Context, r io.Reader) (glasshouse.Ref, int64, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return "", 0, err
	}
	sum := sha256.Sum256(b)
	ref := glasshouse.RefFromSum(sum[:])
	m.mu.Lock()
	defer m.mu.Unlock()
	m.blobs[ref] = b
	return ref, int64(len(b)), nil
}

func (m *testMemBlobs) Open(ctx context.Context, ref glasshouse.Ref, off, length int64) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[ref]
	if !ok {
		return nil, glasshouse.E("testMemBlobs.Open", glasshouse.ErrNotExist, nil, string(ref))
	}
	b = b[min(off, int64(len(b))):]
	if length >= 0 {
		b = b[:min(length, int64(len(b)))]
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m *testMemBlobs) Stat(ctx context.Context, ref glasshouse.Ref) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[ref]
	if !ok {
		return 0, glasshouse.E("testMemBlobs.Stat", glasshouse.ErrNotExist, nil, string(ref))
	}
	return int64(len(b)), nil
}

func (m *testMemBlobs) Delete(ctx context.Context, ref glasshouse.Ref) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.blobs, ref)
	return nil
}

func (m *testMemBlobs) LocalPath(glasshouse.Ref) (string, bool) { return "", false }
func (m *testMemBlobs) Close() error                            { return nil }

var _ glasshouse.BlobStore = (*testMemBlobs)(nil)

func ffmpeg(t testing.TB, args ...string) {
	t.Helper()
	if _, err := media.Run(context.Background(), limits, "ffmpeg", append([]string{"-nostdin", "-v", "error", "-y"}, args...)...); err != nil {
		t.Fatal(err)
	}
}

// threeShots writes a 640x360 video of a 2 s testsrc2, a 2 s smptebars and
// a 12 s solid blue segment: cuts at 2 s and 4 s.
func threeShots(t testing.TB, dir string) string {
	p := filepath.Join(dir, "three.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=s=640x360:r=25:d=2", "-f", "lavfi", "-i", "smptebars=s=640x360:r=25:d=2",
		"-f", "lavfi", "-i", "color=c=0x2050a0:s=640x360:r=25:d=12",
		"-filter_complex", "[0:v][1:v][2:v]concat=n=3:v=1:a=0[v]", "-map", "[v]",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", p)
	return p
}

func TestAnalyzeSynthetic(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := threeShots(t, dir)
	a := shots.New(limits, shots.Options{SampleEvery: 5 * time.Second})
	if a.Name() != "shots" || !a.Accepts(glasshouse.KindVideo) || a.Accepts(glasshouse.KindAudio) || a.Accepts(glasshouse.KindImage) {
		t.Fatal("name or kinds wrong")
	}
	store := newTestMemBlobs()
	var progress []float64
	asset := &glasshouse.Asset{ID: "v1", Tenant: "t1", Kind: glasshouse.KindVideo}
	res, err := a.Analyze(ctx, glasshouse.Input{Asset: asset, Path: p, WorkDir: dir, Blobs: store,
		Progress: func(f float64) { progress = append(progress, f) }})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(res.Insights)
	t.Logf("insights: %s", js)

	got := shots.Boundaries(res.Insights.Shots)
	prec, rec, _ := shots.BoundaryScore(got, []int64{2000, 4000}, 500)
	if prec != 1 || rec != 1 {
		t.Errorf("cuts %v: precision %.2f recall %.2f, want 1 and 1", got, prec, rec)
	}
	sh := res.Insights.Shots
	if len(sh) != 3 || sh[0].StartMS != 0 || sh[2].EndMS < 15900 || sh[2].EndMS > 16100 {
		t.Errorf("shots = %+v", sh)
	}
	for i := 1; i < len(sh); i++ {
		if sh[i].StartMS != sh[i-1].EndMS || sh[i].Index != i {
			t.Errorf("shots not contiguous: %+v", sh)
		}
	}
	// Shot 2 runs 4..16 s, middle 10 s; with samples every 5 s: 5, 10, 15 s.
	var times []int64
	for _, k := range res.Insights.Keyframes {
		times = append(times, k.TimeMS)
	}
	want := []int64{1000, 3000, 5000, 10000, 15000}
	if len(times) != len(want) {
		t.Fatalf("keyframe times %v, want ~%v", times, want)
	}
	for i := range want {
		if d := times[i] - want[i]; d < -100 || d > 100 {
			t.Errorf("keyframe %d at %d ms, want ~%d", i, times[i], want[i])
		}
	}
	// Every keyframe is in the store, as a JPEG of the right width, and
	// listed in Result.Blobs.
	listed := map[glasshouse.Ref]bool{}
	for _, r := range res.Blobs {
		listed[r] = true
	}
	for i, k := range res.Insights.Keyframes {
		if wantShot := []int{0, 1, 2, 2, 2}[i]; k.Shot != wantShot {
			t.Errorf("keyframe %d in shot %d", i, k.Shot)
		}
		for _, c := range []struct {
			ref glasshouse.Ref
			w   int
		}{{k.Image, 640}, {k.Thumb, 320}} {
			if !listed[c.ref] {
				t.Errorf("keyframe %d: %s not in Result.Blobs", i, c.ref)
			}
			img := openJPEG(t, store, c.ref)
			if img.Bounds().Dx() != c.w {
				t.Errorf("keyframe %d: width %d, want %d", i, img.Bounds().Dx(), c.w)
			}
		}
		if i >= 2 { // solid 0x2050a0 segment
			if r, g, b := meanRGB(openJPEG(t, store, k.Image)); abs(r-0x20) > 12 || abs(g-0x50) > 12 || abs(b-0xa0) > 12 {
				t.Errorf("keyframe %d mean colour %d,%d,%d, want ~32,80,160", i, r, g, b)
			}
		}
	}
	// The three solid-blue keyframes are the same picture: stored once.
	if len(store.blobs) >= 2*len(res.Insights.Keyframes) || len(res.Blobs) != len(store.blobs) {
		t.Errorf("%d blobs stored, %d listed, for %d keyframes", len(store.blobs), len(res.Blobs), len(res.Insights.Keyframes))
	}
	if len(progress) == 0 || progress[len(progress)-1] != 1 {
		t.Errorf("progress %v, want it to end at 1", progress)
	}
	for i := 1; i < len(progress); i++ {
		if progress[i] < progress[i-1] {
			t.Errorf("progress goes back: %v", progress)
		}
	}
	if res.Asset != "v1" || res.Tenant != "t1" || res.Run.Name != "shots" || res.Run.Version != "1" || res.Run.Model == "" {
		t.Errorf("run = %+v", res.Run)
	}
}

func openJPEG(t *testing.T, store glasshouse.BlobStore, ref glasshouse.Ref) image.Image {
	t.Helper()
	rc, err := store.Open(context.Background(), ref, 0, -1)
	if err != nil {
		t.Fatalf("blob %s: %v", ref, err)
	}
	defer rc.Close()
	img, err := jpeg.Decode(rc)
	if err != nil {
		t.Fatalf("blob %s is not a JPEG: %v", ref, err)
	}
	return img
}

func meanRGB(img image.Image) (r, g, b int) {
	var sr, sg, sb, n int
	bb := img.Bounds()
	for y := bb.Min.Y; y < bb.Max.Y; y += 5 {
		for x := bb.Min.X; x < bb.Max.X; x += 5 {
			R, G, B, _ := img.At(x, y).RGBA()
			sr, sg, sb, n = sr+int(R>>8), sg+int(G>>8), sb+int(B>>8), n+1
		}
	}
	return sr / n, sg / n, sb / n
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestShotsAndKeyframeTimes(t *testing.T) {
	sh := shots.Shots([]int64{4000, 100, 2000, 2100, 9900}, 10000, 500)
	// 100: too close to the start; 2100: to 2000; 9900: to the end.
	want := []glasshouse.Shot{{Index: 0, StartMS: 0, EndMS: 2000}, {Index: 1, StartMS: 2000, EndMS: 4000}, {Index: 2, StartMS: 4000, EndMS: 10000}}
	if len(sh) != len(want) {
		t.Fatalf("Shots = %+v", sh)
	}
	for i := range want {
		if sh[i] != want[i] {
			t.Errorf("shot %d = %+v, want %+v", i, sh[i], want[i])
		}
	}
	if b := shots.Boundaries(sh); len(b) != 2 || b[0] != 2000 || b[1] != 4000 {
		t.Errorf("Boundaries = %v", b)
	}
	if one := shots.Shots(nil, 7000, 500); len(one) != 1 || one[0].EndMS != 7000 {
		t.Errorf("no cuts: %+v", one)
	}
	kf := shots.KeyframeTimes([]glasshouse.Shot{{Index: 0, StartMS: 0, EndMS: 35000}, {Index: 1, StartMS: 35000, EndMS: 35040}}, 10000, 40)
	var got []int64
	for _, k := range kf {
		got = append(got, k.TimeMS)
	}
	wantT := []int64{7500, 17500, 27500, 35000}
	if len(got) != len(wantT) {
		t.Fatalf("KeyframeTimes = %v, want %v", got, wantT)
	}
	for i := range wantT {
		if got[i] != wantT[i] {
			t.Errorf("KeyframeTimes = %v, want %v", got, wantT)
			break
		}
	}
}

func TestBoundaryScore(t *testing.T) {
	cases := []struct {
		got, want []int64
		p, r      float64
		m         int
	}{
		{[]int64{2000, 4010}, []int64{2000, 4000}, 1, 1, 2},
		{[]int64{2600}, []int64{2000}, 0, 0, 0},
		{[]int64{1000, 2000, 3000}, []int64{2100}, 1.0 / 3, 1, 1},
		{[]int64{2000, 2100}, []int64{2050}, 0.5, 1, 1}, // one to one
		{[]int64{4900, 5200}, []int64{5000, 5300}, 1, 1, 2},
		{nil, []int64{5000}, 0, 0, 0},
		{nil, nil, 1, 1, 0},
		{[]int64{5000}, nil, 0, 1, 0},
	}
	for _, c := range cases {
		p, r, m := shots.BoundaryScore(c.got, c.want, 500)
		if p != c.p || r != c.r || m != c.m {
			t.Errorf("BoundaryScore(%v, %v) = %v %v %d, want %v %v %d", c.got, c.want, p, r, m, c.p, c.r, c.m)
		}
	}
}

func sharedTestdata(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root not found")
		}
		dir = parent
	}
	td := filepath.Join(dir, "..", "shared", "testdata")
	if _, err := os.Stat(td); err != nil {
		t.Skipf("shared test data not present: %v", err)
	}
	return td
}

func TestBriefing(t *testing.T) {
	td := sharedTestdata(t)
	var truth struct {
		Shots []struct {
			Start float64 `json:"start_s"`
			End   float64 `json:"end_s"`
		} `json:"shots"`
	}
	b, err := os.ReadFile(filepath.Join(td, "video", "briefing.truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	var want []int64
	for _, s := range truth.Shots[1:] {
		want = append(want, int64(s.Start*1000))
	}
	store := newTestMemBlobs()
	res, err := shots.New(limits, shots.Options{}).Analyze(context.Background(),
		glasshouse.Input{Path: filepath.Join(td, "video", "briefing.mp4"), WorkDir: t.TempDir(), Blobs: store})
	if err != nil {
		t.Fatal(err)
	}
	got := shots.Boundaries(res.Insights.Shots)
	p, r, _ := shots.BoundaryScore(got, want, 500)
	t.Logf("briefing.mp4: cuts %v, truth %v: precision %.2f recall %.2f", got, want, p, r)
	if p != 1 || r != 1 {
		t.Errorf("briefing.mp4: cuts %v vs truth %v: precision %.2f recall %.2f", got, want, p, r)
	}
	if len(res.Insights.Keyframes) != len(truth.Shots) {
		t.Errorf("%d keyframes for %d shots", len(res.Insights.Keyframes), len(truth.Shots))
	}
	for _, k := range res.Insights.Keyframes {
		if img := openJPEG(t, store, k.Image); img.Bounds().Dx() != 1280 {
			t.Errorf("keyframe width %d, want 1280", img.Bounds().Dx())
		}
	}
}

func TestTreeAVI(t *testing.T) {
	td := sharedTestdata(t)
	store := newTestMemBlobs()
	res, err := shots.New(limits, shots.Options{}).Analyze(context.Background(),
		glasshouse.Input{Path: filepath.Join(td, "video", "tree.avi"), WorkDir: t.TempDir(), Blobs: store})
	if err != nil {
		t.Fatal(err)
	}
	// A real 29.6 s clip: whatever the cuts, the shots cover it and every
	// shot has a keyframe stored.
	sh := res.Insights.Shots
	if len(sh) == 0 || sh[0].StartMS != 0 || sh[len(sh)-1].EndMS < 29500 {
		t.Errorf("shots %+v do not cover the clip", sh)
	}
	has := map[int]bool{}
	for _, k := range res.Insights.Keyframes {
		has[k.Shot] = true
		if _, err := store.Stat(context.Background(), k.Image); err != nil {
			t.Errorf("keyframe image: %v", err)
		}
	}
	if len(has) != len(sh) {
		t.Errorf("%d of %d shots have keyframes", len(has), len(sh))
	}
	t.Logf("tree.avi: %d shots, %d keyframes", len(sh), len(res.Insights.Keyframes))
}

// BenchmarkShots runs the analyzer on a 60 s 1280x720 clip with cuts at 20 s
// and 40 s, and reports media seconds analysed per wall second.
func BenchmarkShots(b *testing.B) {
	dir := b.TempDir()
	p := filepath.Join(dir, "bench.mp4")
	ffmpeg(b, "-f", "lavfi", "-i", "testsrc2=s=1280x720:r=25:d=20", "-f", "lavfi", "-i", "smptehdbars=s=1280x720:r=25:d=20",
		"-f", "lavfi", "-i", "testsrc=s=1280x720:r=25:d=20",
		"-filter_complex", "[0:v][1:v][2:v]concat=n=3:v=1:a=0[v]", "-map", "[v]",
		"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", p)
	a := shots.New(limits, shots.Options{})
	var res *glasshouse.Result
	var before syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &before)
	b.ResetTimer()
	for b.Loop() {
		var err error
		res, err = a.Analyze(context.Background(), glasshouse.Input{Path: p, WorkDir: dir, Blobs: newTestMemBlobs()})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(60*float64(b.N)/b.Elapsed().Seconds(), "media-s/s")
	// CPU seconds of the ffmpeg processes: steadier than wall time on a
	// shared machine.
	var after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	b.ReportMetric(cpu.Seconds()/float64(b.N), "ffmpeg-cpu-s/op")
	b.ReportMetric(float64(len(res.Insights.Keyframes)), "keyframes")
	p2, r2, _ := shots.BoundaryScore(shots.Boundaries(res.Insights.Shots), []int64{20000, 40000}, 500)
	b.ReportMetric(p2, "precision")
	b.ReportMetric(r2, "recall")
}
