package vision

import (
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/glasshouse/glasshouse"
)

// openRuntime opens the provisioned models directory or skips the test.
func openRuntime(t testing.TB) *Runtime {
	t.Helper()
	dir := DefaultModelsDir()
	if _, err := os.Stat(filepath.Join(dir, LibraryName)); err != nil {
		t.Skipf("models not provisioned in %s: run `bash models/provision.sh` at the repository root", dir)
	}
	rt, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt
}

type checkFile struct {
	Input struct {
		Shape []int64 `json:"shape"`
	} `json:"input"`
	Outputs []struct {
		Name  string    `json:"name"`
		Shape []int64   `json:"shape"`
		Mean  float64   `json:"mean"`
		Index []int     `json:"index"`
		Value []float64 `json:"value"`
	} `json:"outputs"`
}

// checkInput regenerates the deterministic input of models/tfjs2onnx.py.
func checkInput(shape []int64) *Tensor {
	c, h, w := int(shape[1]), int(shape[2]), int(shape[3])
	t := &Tensor{Shape: shape, Data: make([]float32, c*h*w)}
	for ci := 0; ci < c; ci++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				v := (x*7 + y*13 + ci*29 + (x*y)%17) % 255
				t.Data[(ci*h+y)*w+x] = float32(v)/127.5 - 1
			}
		}
	}
	return t
}

// TestConversionMatchesReference runs each converted model with ONNX Runtime
// on the converter's deterministic input and compares with the NumPy
// reference of the original TensorFlow graph (NHWC) that the converter
// wrote: this validates layout, padding, resize and weight conversion.
func TestConversionMatchesReference(t *testing.T) {
	rt := openRuntime(t)
	for _, model := range []string{"centernet", "blazeface"} {
		t.Run(model, func(t *testing.T) {
			b, err := os.ReadFile(rt.Path(model + ".check.json"))
			if err != nil {
				t.Fatal(err)
			}
			var cf checkFile
			if err := json.Unmarshal(b, &cf); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, o := range cf.Outputs {
				names = append(names, o.Name)
			}
			s, err := rt.NewSession(context.Background(), model+".onnx", []string{"input"}, names, SessionOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			outs, err := s.Run(context.Background(), checkInput(cf.Input.Shape))
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range cf.Outputs {
				got := outs[i]
				if len(got.Shape) != len(want.Shape) {
					t.Fatalf("%s: shape %v, want %v", want.Name, got.Shape, want.Shape)
				}
				for j := range got.Shape {
					if got.Shape[j] != want.Shape[j] {
						t.Fatalf("%s: shape %v, want %v", want.Name, got.Shape, want.Shape)
					}
				}
				maxErr, scale := 0.0, 1e-3
				for _, v := range want.Value {
					scale = math.Max(scale, math.Abs(v))
				}
				for k, idx := range want.Index {
					maxErr = math.Max(maxErr, math.Abs(float64(got.Data[idx])-want.Value[k]))
				}
				mean := 0.0
				for _, v := range got.Data {
					mean += float64(v)
				}
				mean /= float64(len(got.Data))
				t.Logf("%s: %d sampled values, max abs error %.2g (value scale %.3g), mean %.6g vs %.6g",
					want.Name, len(want.Index), maxErr, scale, mean, want.Mean)
				if maxErr > 1e-3*scale {
					t.Errorf("%s: max abs error %g exceeds %g", want.Name, maxErr, 1e-3*scale)
				}
				if math.Abs(mean-want.Mean) > 1e-3*math.Max(1e-3, math.Abs(want.Mean))+1e-5 {
					t.Errorf("%s: mean %g, want %g", want.Name, mean, want.Mean)
				}
			}
		})
	}
}

func TestOpenTwiceAndConcurrently(t *testing.T) {
	rt := openRuntime(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := Open(rt.Dir())
			if err != nil {
				errs <- err
				return
			}
			errs <- r.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// rt is still usable after the others closed.
	s, err := rt.NewSession(context.Background(), "blazeface.onnx", []string{"input"}, []string{"scores16"}, SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := rt.NewSession(context.Background(), "nope.onnx", []string{"input"}, []string{"x"}, SessionOptions{}); !errors.Is(err, glasshouse.ErrNotExist) {
		t.Fatalf("missing model: %v, want ErrNotExist", err)
	}
}

func TestOpenMissingDir(t *testing.T) {
	_, err := Open(t.TempDir())
	if !errors.Is(err, glasshouse.ErrNotExist) {
		t.Fatalf("Open(empty dir) = %v, want ErrNotExist", err)
	}
}

func TestIoUAndNMS(t *testing.T) {
	a := glasshouse.Box{X: 0, Y: 0, W: 0.5, H: 0.5}
	b := glasshouse.Box{X: 0.25, Y: 0, W: 0.5, H: 0.5}
	if got := IoU(a, b); math.Abs(got-1.0/3) > 1e-9 {
		t.Fatalf("IoU = %v, want 1/3", got)
	}
	if IoU(a, glasshouse.Box{X: 0.6, Y: 0.6, W: 0.1, H: 0.1}) != 0 {
		t.Fatal("disjoint IoU != 0")
	}
	if IoU(a, a) != 1 {
		t.Fatal("self IoU != 1")
	}
	dets := []Detection{
		{Class: 0, Score: 0.6, Box: b},
		{Class: 0, Score: 0.9, Box: a},
		{Class: 1, Score: 0.8, Box: a},
		{Class: 0, Score: 0.5, Box: glasshouse.Box{X: 0.7, Y: 0.7, W: 0.2, H: 0.2}},
	}
	got := NMS(dets, 0.3, true)
	if len(got) != 3 || got[0].Score != 0.9 || got[1].Class != 1 || got[2].Score != 0.5 {
		t.Fatalf("NMS per class = %+v", got)
	}
	if got := NMS(dets, 0.3, false); len(got) != 2 {
		t.Fatalf("NMS across classes kept %d, want 2", len(got))
	}
	if got := NMS(dets, 0.2, false); len(got) != 2 {
		t.Fatalf("NMS 0.2 kept %d", len(got))
	}
}

func TestPeaks(t *testing.T) {
	h, w := 5, 6
	heat := make([]float32, 2*h*w)
	heat[1*w+1] = 0.9
	heat[1*w+2] = 0.8 // neighbour of a higher value: not a peak
	heat[4*w+5] = 0.5
	heat[h*w+2*w+3] = 0.7 // class 1
	p := Peaks(heat, 2, h, w, 0.3, 0)
	if len(p) != 3 {
		t.Fatalf("peaks = %+v", p)
	}
	if p[0] != (Peak{Class: 0, Y: 1, X: 1, Score: 0.9}) || p[1] != (Peak{Class: 1, Y: 2, X: 3, Score: 0.7}) || p[2] != (Peak{Class: 0, Y: 4, X: 5, Score: 0.5}) {
		t.Fatalf("peaks = %+v", p)
	}
	if len(Peaks(heat, 2, h, w, 0.3, 1)) != 1 {
		t.Fatal("max not applied")
	}
}

func TestLetterboxMapping(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 200, 100))
	for y := 0; y < 100; y++ {
		for x := 0; x < 200; x++ {
			img.Set(x, y, color.RGBA{255, 0, 0, 255})
		}
	}
	tn, f := Letterbox(img, 64, 64, NormUnit, 0)
	if f.PadX != 0 || f.PadY != 16 || f.ScaleX != 0.32 {
		t.Fatalf("frame %+v", f)
	}
	// Row 0 is padding (0), row 32 is red.
	if tn.Data[0] != 0 || tn.Data[32*64+10] < 0.99 || tn.Data[64*64+32*64+10] != 0 {
		t.Fatalf("letterbox values: pad %v red %v green %v", tn.Data[0], tn.Data[32*64+10], tn.Data[64*64+32*64+10])
	}
	box := f.ToSource(0, 16, 32, 48)
	if math.Abs(box.X) > 1e-9 || math.Abs(box.W-0.5) > 1e-9 || math.Abs(box.H-1) > 1e-9 {
		t.Fatalf("ToSource = %+v", box)
	}
	// Sub-images with a non-zero origin sample the right pixels.
	img.Set(150, 50, color.RGBA{0, 255, 0, 255})
	sub := SubImage(img, image.Rect(140, 40, 160, 60))
	tn, _ = Stretch(sub, 20, 20, NormUnit)
	if tn.Data[400+10*20+10] < 0.99 {
		t.Fatalf("sub-image not sampled at its origin: %v", tn.Data[400+10*20+10])
	}
}

func TestTiles(t *testing.T) {
	tiles := Tiles(1280, 720, 400, 0.25)
	cov := image.Rectangle{}
	for _, r := range tiles {
		cov = cov.Union(r)
		if r.Dx() != 400 || r.Dy() != 400 {
			t.Fatalf("tile %v", r)
		}
	}
	if cov != image.Rect(0, 0, 1280, 720) {
		t.Fatalf("tiles cover %v", cov)
	}
	if n := len(Tiles(100, 100, 400, 0.25)); n != 1 {
		t.Fatalf("small image: %d tiles", n)
	}
}
