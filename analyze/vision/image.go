package vision

import (
	"image"
	"image/draw"
	"math"

	"github.com/glasshouse/glasshouse"
)

// Tensor is a dense float32 tensor in row-major order.
type Tensor struct {
	Shape []int64
	Data  []float32
}

// Norm maps an 8-bit channel value v to v*Scale + Offset.
type Norm struct {
	Scale, Offset float32
}

// Common normalisations.
var (
	// NormUnit maps 0..255 to 0..1.
	NormUnit = Norm{Scale: 1.0 / 255, Offset: 0}
	// NormSigned maps 0..255 to -1..1.
	NormSigned = Norm{Scale: 2.0 / 255, Offset: -1}
	// NormRaw keeps 0..255.
	NormRaw = Norm{Scale: 1, Offset: 0}
)

// Frame maps between a model's input square and the source image: a source
// pixel (x, y) is at (x*Scale + PadX, y*Scale + PadY) in the input.
type Frame struct {
	SrcW, SrcH int     // source image size
	W, H       int     // model input size
	ScaleX     float64 // input pixels per source pixel, horizontally
	ScaleY     float64 // input pixels per source pixel, vertically
	PadX, PadY float64 // input pixels of padding before the image
}

// ToSource converts a box in model-input pixels (x0, y0, x1, y1) to a box
// normalised to the source image (0..1), clipped to the image.
func (f Frame) ToSource(x0, y0, x1, y1 float64) glasshouse.Box {
	sx0 := (x0 - f.PadX) / f.ScaleX / float64(f.SrcW)
	sy0 := (y0 - f.PadY) / f.ScaleY / float64(f.SrcH)
	sx1 := (x1 - f.PadX) / f.ScaleX / float64(f.SrcW)
	sy1 := (y1 - f.PadY) / f.ScaleY / float64(f.SrcH)
	sx0, sx1 = clamp01(sx0), clamp01(sx1)
	sy0, sy1 = clamp01(sy0), clamp01(sy1)
	return glasshouse.Box{X: sx0, Y: sy0, W: math.Max(0, sx1-sx0), H: math.Max(0, sy1-sy0)}
}

func clamp01(v float64) float64 { return math.Min(1, math.Max(0, v)) }

// RGBA returns img as *image.RGBA, converting only when needed.
func RGBA(img image.Image) *image.RGBA {
	if m, ok := img.(*image.RGBA); ok {
		return m
	}
	b := img.Bounds()
	m := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(m, m.Bounds(), img, b.Min, draw.Src)
	return m
}

// Letterbox scales img to fit w×h keeping its aspect ratio, centres it and
// pads the rest with the colour pad (0..255 per channel, before
// normalisation). It returns an NCHW tensor [1, 3, h, w] of RGB values
// normalised with n, and the mapping back to the source.
func Letterbox(img image.Image, w, h int, n Norm, pad uint8) (*Tensor, Frame) {
	b := img.Bounds()
	s := math.Min(float64(w)/float64(b.Dx()), float64(h)/float64(b.Dy()))
	nw := int(math.Round(float64(b.Dx()) * s))
	nh := int(math.Round(float64(b.Dy()) * s))
	f := Frame{SrcW: b.Dx(), SrcH: b.Dy(), W: w, H: h, ScaleX: float64(nw) / float64(b.Dx()),
		ScaleY: float64(nh) / float64(b.Dy()), PadX: float64((w - nw) / 2), PadY: float64((h - nh) / 2)}
	return sample(img, f, n, pad), f
}

// Stretch scales img to exactly w×h, ignoring its aspect ratio, and
// returns an NCHW tensor [1, 3, h, w] normalised with n.
func Stretch(img image.Image, w, h int, n Norm) (*Tensor, Frame) {
	b := img.Bounds()
	f := Frame{SrcW: b.Dx(), SrcH: b.Dy(), W: w, H: h,
		ScaleX: float64(w) / float64(b.Dx()), ScaleY: float64(h) / float64(b.Dy())}
	return sample(img, f, n, 0), f
}

// sample fills the model input through f with bilinear interpolation (area
// averaging when shrinking by more than 2x, to avoid aliasing).
func sample(img image.Image, f Frame, n Norm, pad uint8) *Tensor {
	src := RGBA(img)
	sb := src.Bounds()
	plane := f.W * f.H
	t := &Tensor{Shape: []int64{1, 3, int64(f.H), int64(f.W)}, Data: make([]float32, 3*plane)}
	pv := float32(pad)*n.Scale + n.Offset
	// Box filter radius in source pixels for strong downscaling.
	rx := int(math.Floor(0.5 / f.ScaleX))
	ry := int(math.Floor(0.5 / f.ScaleY))
	if rx < 1 {
		rx = 0
	}
	if ry < 1 {
		ry = 0
	}
	sw, sh := sb.Dx(), sb.Dy()
	for y := 0; y < f.H; y++ {
		fy := (float64(y)+0.5-f.PadY)/f.ScaleY - 0.5
		for x := 0; x < f.W; x++ {
			i := y*f.W + x
			fx := (float64(x)+0.5-f.PadX)/f.ScaleX - 0.5
			if fx < -0.5 || fy < -0.5 || fx > float64(sw)-0.5 || fy > float64(sh)-0.5 {
				t.Data[i], t.Data[plane+i], t.Data[2*plane+i] = pv, pv, pv
				continue
			}
			var r, g, bl float64
			if rx > 0 || ry > 0 {
				cx, cy := int(math.Round(fx)), int(math.Round(fy))
				cnt := 0.0
				for yy := cy - ry; yy <= cy+ry; yy++ {
					if yy < 0 || yy >= sh {
						continue
					}
					for xx := cx - rx; xx <= cx+rx; xx++ {
						if xx < 0 || xx >= sw {
							continue
						}
						p := src.Pix[src.PixOffset(sb.Min.X+xx, sb.Min.Y+yy):]
						r += float64(p[0])
						g += float64(p[1])
						bl += float64(p[2])
						cnt++
					}
				}
				r, g, bl = r/cnt, g/cnt, bl/cnt
			} else {
				r, g, bl = bilinear(src, fx, fy)
			}
			t.Data[i] = float32(r)*n.Scale + n.Offset
			t.Data[plane+i] = float32(g)*n.Scale + n.Offset
			t.Data[2*plane+i] = float32(bl)*n.Scale + n.Offset
		}
	}
	return t
}

func bilinear(src *image.RGBA, fx, fy float64) (r, g, b float64) {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	x0 := int(math.Floor(fx))
	y0 := int(math.Floor(fy))
	ax := fx - float64(x0)
	ay := fy - float64(y0)
	x1, y1 := x0+1, y0+1
	x0, x1 = clampi(x0, w-1), clampi(x1, w-1)
	y0, y1 = clampi(y0, h-1), clampi(y1, h-1)
	m := src.Rect.Min
	p00 := src.Pix[src.PixOffset(m.X+x0, m.Y+y0):]
	p01 := src.Pix[src.PixOffset(m.X+x1, m.Y+y0):]
	p10 := src.Pix[src.PixOffset(m.X+x0, m.Y+y1):]
	p11 := src.Pix[src.PixOffset(m.X+x1, m.Y+y1):]
	mix := func(c int) float64 {
		top := float64(p00[c])*(1-ax) + float64(p01[c])*ax
		bot := float64(p10[c])*(1-ax) + float64(p11[c])*ax
		return top*(1-ay) + bot*ay
	}
	return mix(0), mix(1), mix(2)
}

func clampi(v, hi int) int {
	if v < 0 {
		return 0
	}
	if v > hi {
		return hi
	}
	return v
}

// Tile is a sub-rectangle of an image used for tiled detection.
type Tile = image.Rectangle

// Tiles covers a w×h image with square tiles of side size (at most the
// shorter image side) overlapping by at least overlap (0..1 of size). The
// whole image is always covered; tiles are in row-major order.
func Tiles(w, h, size int, overlap float64) []Tile {
	if size <= 0 || w <= 0 || h <= 0 {
		return nil
	}
	if size > w {
		size = w
	}
	if size > h {
		size = h
	}
	starts := func(total int) []int {
		if size >= total {
			return []int{0}
		}
		step := float64(size) * (1 - overlap)
		n := int(math.Ceil(float64(total-size)/step)) + 1
		out := make([]int, n)
		for i := range out {
			out[i] = int(math.Round(float64(i) * float64(total-size) / float64(n-1)))
		}
		return out
	}
	var out []Tile
	for _, y := range starts(h) {
		for _, x := range starts(w) {
			out = append(out, image.Rect(x, y, x+size, y+size))
		}
	}
	return out
}

// SubImage returns the part r of img (sharing pixels where the type allows).
func SubImage(img image.Image, r image.Rectangle) image.Image {
	type subImager interface {
		SubImage(r image.Rectangle) image.Image
	}
	r = r.Add(img.Bounds().Min)
	if s, ok := img.(subImager); ok {
		return s.SubImage(r)
	}
	m := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(m, m.Bounds(), img, r.Min, draw.Src)
	return m
}
