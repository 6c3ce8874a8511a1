package ocr

import (
	"bytes"
	"image"
	"strconv"
)

// toGrey converts an RGBA frame to 8-bit luma (BT.601 weights).
func toGrey(src *image.RGBA) *image.Gray {
	b := src.Rect
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		s := src.Pix[y*src.Stride : y*src.Stride+4*b.Dx()]
		d := g.Pix[y*g.Stride : y*g.Stride+b.Dx()]
		for x := range d {
			r, gg, bb := uint32(s[4*x]), uint32(s[4*x+1]), uint32(s[4*x+2])
			d[x] = uint8((299*r + 587*gg + 114*bb + 500) / 1000)
		}
	}
	return g
}

// histogram of the grey levels.
func histogram(g *image.Gray) (h [256]int, n int) {
	w, ht := g.Rect.Dx(), g.Rect.Dy()
	for y := 0; y < ht; y++ {
		for _, v := range g.Pix[y*g.Stride : y*g.Stride+w] {
			h[v]++
		}
	}
	return h, w * ht
}

// percentile returns the grey level below which frac of the pixels lie.
func percentile(h *[256]int, n int, frac float64) int {
	want := int(frac * float64(n))
	acc := 0
	for v := 0; v < 256; v++ {
		acc += h[v]
		if acc > want {
			return v
		}
	}
	return 255
}

// stretch maps the 1st..99th percentile of grey levels onto 0..255, which
// lifts faint text out of a flat background before tesseract binarises.
func stretch(g *image.Gray) *image.Gray {
	h, n := histogram(g)
	lo, hi := percentile(&h, n, 0.01), percentile(&h, n, 0.99)
	if hi <= lo {
		// Almost flat: widen to the full range actually present.
		lo, hi = percentile(&h, n, 0), percentile(&h, n, 0.9999)
	}
	out := image.NewGray(g.Rect)
	var lut [256]uint8
	for v := range lut {
		switch {
		case hi <= lo:
			lut[v] = uint8(v)
		case v <= lo:
			lut[v] = 0
		case v >= hi:
			lut[v] = 255
		default:
			lut[v] = uint8((v - lo) * 255 / (hi - lo))
		}
	}
	mapLUT(g, out, &lut)
	return out
}

// brightText isolates the brightest strokes: pixels near the white level
// become black, everything else white. It finds white captions over busy
// pictures and white text on light grey, which a global threshold merges
// with the background.
//
// It also returns the fraction of pixels that turned black: text is sparse
// (well under a tenth of the frame), a bright background is not.
func brightText(g *image.Gray) (*image.Gray, float64) {
	h, n := histogram(g)
	white := percentile(&h, n, 0.999)
	t := white - brightMargin(white, percentile(&h, n, 0.5))
	dark := 0
	for v := t; v < 256; v++ {
		dark += h[v]
	}
	var lut [256]uint8
	for v := range lut {
		if v >= t {
			lut[v] = 0
		} else {
			lut[v] = 255
		}
	}
	out := image.NewGray(g.Rect)
	mapLUT(g, out, &lut)
	return out, float64(dark) / float64(max(n, 1))
}

// brightFrac is the fraction of pixels brightText would turn black,
// without building the image.
func brightFrac(g *image.Gray) float64 {
	h, n := histogram(g)
	white := percentile(&h, n, 0.999)
	t := white - brightMargin(white, percentile(&h, n, 0.5))
	dark := 0
	for v := t; v < 256; v++ {
		dark += h[v]
	}
	return float64(dark) / float64(max(n, 1))
}

func mapLUT(src, dst *image.Gray, lut *[256]uint8) {
	w, ht := src.Rect.Dx(), src.Rect.Dy()
	for y := 0; y < ht; y++ {
		s := src.Pix[y*src.Stride : y*src.Stride+w]
		d := dst.Pix[y*dst.Stride : y*dst.Stride+w]
		for x, v := range s {
			d[x] = lut[v]
		}
	}
}

// encodePGM writes g as a binary PGM (P5), which tesseract reads on stdin.
func encodePGM(g *image.Gray) []byte {
	w, ht := g.Rect.Dx(), g.Rect.Dy()
	var b bytes.Buffer
	b.Grow(w*ht + 20)
	b.WriteString("P5\n" + strconv.Itoa(w) + " " + strconv.Itoa(ht) + "\n255\n")
	for y := 0; y < ht; y++ {
		b.Write(g.Pix[y*g.Stride : y*g.Stride+w])
	}
	return b.Bytes()
}

// signature is a coarse grid of mean grey levels, used to tell whether a
// frame differs from the last one read.
type signature struct {
	cols, rows int
	mean       []float32
}

// sigCell is the side of a signature cell in pixels: small enough that a
// changed caption moves some cell's mean by tens of grey levels, large
// enough that compression noise averages out.
const sigCell = 20

func makeSignature(g *image.Gray) signature {
	w, ht := g.Rect.Dx(), g.Rect.Dy()
	cols, rows := (w+sigCell-1)/sigCell, (ht+sigCell-1)/sigCell
	sum := make([]uint32, cols*rows)
	cnt := make([]uint32, cols*rows)
	for y := 0; y < ht; y++ {
		row := g.Pix[y*g.Stride : y*g.Stride+w]
		base := (y / sigCell) * cols
		for x, v := range row {
			i := base + x/sigCell
			sum[i] += uint32(v)
			cnt[i]++
		}
	}
	s := signature{cols: cols, rows: rows, mean: make([]float32, len(sum))}
	for i := range sum {
		s.mean[i] = float32(sum[i]) / float32(cnt[i])
	}
	return s
}

// maxDiff is the largest change of a cell mean between two signatures; it
// is +Inf-like (256) when the frame size changed.
func (s signature) maxDiff(o signature) float64 {
	if s.cols != o.cols || s.rows != o.rows {
		return 256
	}
	var m float32
	for i, v := range s.mean {
		d := v - o.mean[i]
		if d < 0 {
			d = -d
		}
		if d > m {
			m = d
		}
	}
	return float64(m)
}

// brightMargin is how far below the white level the bright-text threshold
// sits: a quarter of the way to the median, 10..25 grey levels.
func brightMargin(white, mid int) int {
	return min(25, max(10, (white-mid)/4))
}

// upscale enlarges g by an integer factor (bilinear) so that it is at least
// minW pixels wide, by at most 3x: tesseract reads small print far better
// with letters some 20-30 pixels tall.
func upscale(g *image.Gray, minW int) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	f := 1
	for f < 3 && w*f < minW {
		f++
	}
	if f == 1 {
		return g
	}
	out := image.NewGray(image.Rect(0, 0, w*f, h*f))
	for y := 0; y < h*f; y++ {
		sy := (float64(y)+0.5)/float64(f) - 0.5
		y0 := max(0, int(sy))
		y1 := min(h-1, y0+1)
		fy := max(0, sy-float64(y0))
		r0 := g.Pix[y0*g.Stride:]
		r1 := g.Pix[y1*g.Stride:]
		d := out.Pix[y*out.Stride:]
		for x := 0; x < w*f; x++ {
			sx := (float64(x)+0.5)/float64(f) - 0.5
			x0 := max(0, int(sx))
			x1 := min(w-1, x0+1)
			fx := max(0, sx-float64(x0))
			top := float64(r0[x0])*(1-fx) + float64(r0[x1])*fx
			bot := float64(r1[x0])*(1-fx) + float64(r1[x1])*fx
			d[x] = uint8(top*(1-fy) + bot*fy + 0.5)
		}
	}
	return out
}
