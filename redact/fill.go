package redact

import (
	"image"
)

// planar is one decoded picture as planes: yuv420p for video (Y at full
// size, U and V at half size each way) or gbrp for images (G, B, R at full
// size). The bytes of all planes are contiguous in buf.
type planar struct {
	w, h   int
	yuv    bool // yuv420p; else gbrp
	buf    []byte
	planes [3]plane
}

type plane struct {
	pix    []byte
	w, h   int
	shiftX uint // log2 of the subsampling relative to the picture
	shiftY uint
}

func frameSize(w, h int, yuv bool) int {
	if yuv {
		cw, ch := (w+1)/2, (h+1)/2
		return w*h + 2*cw*ch
	}
	return 3 * w * h
}

func newPlanar(w, h int, yuv bool) *planar {
	p := &planar{w: w, h: h, yuv: yuv, buf: make([]byte, frameSize(w, h, yuv))}
	if yuv {
		cw, ch := (w+1)/2, (h+1)/2
		p.planes[0] = plane{pix: p.buf[:w*h], w: w, h: h}
		p.planes[1] = plane{pix: p.buf[w*h : w*h+cw*ch], w: cw, h: ch, shiftX: 1, shiftY: 1}
		p.planes[2] = plane{pix: p.buf[w*h+cw*ch:], w: cw, h: ch, shiftX: 1, shiftY: 1}
	} else {
		for i := range p.planes {
			p.planes[i] = plane{pix: p.buf[i*w*h : (i+1)*w*h], w: w, h: h}
		}
	}
	return p
}

// fillValues returns the per-plane values of colour c (RGB).
func (p *planar) fillValues(c [3]uint8) [3]byte {
	r, g, b := float64(c[0]), float64(c[1]), float64(c[2])
	if p.yuv { // BT.601 limited range, what ffmpeg assumes for yuv420p
		y := 16 + (65.481*r+128.553*g+24.966*b)/255
		u := 128 + (-37.797*r-74.203*g+112.0*b)/255
		v := 128 + (112.0*r-93.786*g-18.214*b)/255
		return [3]byte{clampByte(y), clampByte(u), clampByte(v)}
	}
	return [3]byte{c[1], c[2], c[0]} // gbrp
}

func clampByte(v float64) byte {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return byte(v + 0.5)
}

// rect is a pixel rectangle of the picture, [x0,x1)×[y0,y1).
type rect struct{ x0, y0, x1, y1 int }

func (r rect) empty() bool { return r.x1 <= r.x0 || r.y1 <= r.y0 }

// inPlane maps r to plane coordinates, rounding outwards.
func (pl *plane) inPlane(r rect) rect {
	sx, sy := 1<<pl.shiftX, 1<<pl.shiftY
	out := rect{r.x0 / sx, r.y0 / sy, (r.x1 + sx - 1) / sx, (r.y1 + sy - 1) / sy}
	out.x0, out.y0 = max(0, out.x0), max(0, out.y0)
	out.x1, out.y1 = min(pl.w, out.x1), min(pl.h, out.y1)
	return out
}

// fill covers r with mode. block is the pixelate block / blur radius in
// picture pixels.
func (p *planar) fill(r rect, mode string, color [3]byte) {
	r.x0, r.y0 = max(0, r.x0), max(0, r.y0)
	r.x1, r.y1 = min(p.w, r.x1), min(p.h, r.y1)
	if r.empty() {
		return
	}
	size := max(r.x1-r.x0, r.y1-r.y0)
	for i := range p.planes {
		pl := &p.planes[i]
		pr := pl.inPlane(r)
		if pr.empty() {
			continue
		}
		switch mode {
		case FillPixelate:
			pl.pixelate(pr, max(4, (size>>pl.shiftX)/6))
		case FillBlur:
			rad := max(4, (size>>pl.shiftX)/4)
			for k := 0; k < 3; k++ { // three box passes approach a Gaussian
				pl.boxBlur(pr, rad)
			}
		default:
			for y := pr.y0; y < pr.y1; y++ {
				row := pl.pix[y*pl.w+pr.x0 : y*pl.w+pr.x1]
				for x := range row {
					row[x] = color[i]
				}
			}
		}
	}
}

func (pl *plane) pixelate(r rect, block int) {
	for by := r.y0; by < r.y1; by += block {
		for bx := r.x0; bx < r.x1; bx += block {
			ey, ex := min(by+block, r.y1), min(bx+block, r.x1)
			sum, n := 0, 0
			for y := by; y < ey; y++ {
				for _, v := range pl.pix[y*pl.w+bx : y*pl.w+ex] {
					sum += int(v)
				}
				n += ex - bx
			}
			avg := byte(sum / n)
			for y := by; y < ey; y++ {
				row := pl.pix[y*pl.w+bx : y*pl.w+ex]
				for x := range row {
					row[x] = avg
				}
			}
		}
	}
}

// boxBlur blurs r in place with a box of radius rad, horizontally then
// vertically, reading only pixels inside r (edges clamp).
func (pl *plane) boxBlur(r rect, rad int) {
	w, h := r.x1-r.x0, r.y1-r.y0
	line := make([]int, max(w, h))
	out := make([]byte, max(w, h))
	pass := func(n int, get func(i int) byte, set func(i int, v byte)) {
		for i := 0; i < n; i++ {
			line[i] = int(get(i))
		}
		win := 2*rad + 1
		sum := 0
		for k := -rad; k <= rad; k++ {
			sum += line[clampi(k, n-1)]
		}
		for i := 0; i < n; i++ {
			out[i] = byte(sum / win)
			sum += line[clampi(i+rad+1, n-1)] - line[clampi(i-rad, n-1)]
		}
		for i := 0; i < n; i++ {
			set(i, out[i])
		}
	}
	for y := r.y0; y < r.y1; y++ {
		row := pl.pix[y*pl.w:]
		pass(w, func(i int) byte { return row[r.x0+i] }, func(i int, v byte) { row[r.x0+i] = v })
	}
	for x := r.x0; x < r.x1; x++ {
		pass(h, func(i int) byte { return pl.pix[(r.y0+i)*pl.w+x] }, func(i int, v byte) { pl.pix[(r.y0+i)*pl.w+x] = v })
	}
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

// rgba returns the picture as RGBA for the face detector, shrunk by an
// integer factor so that it is at most maxW wide (averaging the luma or
// colour of each block).
func (p *planar) rgba(maxW int) *image.RGBA {
	f := 1
	if maxW > 0 {
		for p.w/f > maxW {
			f++
		}
	}
	ow, oh := p.w/f, p.h/f
	img := image.NewRGBA(image.Rect(0, 0, ow, oh))
	n := f * f
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			x0, y0 := ox*f, oy*f
			o := img.PixOffset(ox, oy)
			if p.yuv {
				s := 0
				for y := y0; y < y0+f; y++ {
					for _, v := range p.planes[0].pix[y*p.w+x0 : y*p.w+x0+f] {
						s += int(v)
					}
				}
				cx, cy := (x0+f/2)>>1, (y0+f/2)>>1
				cw := p.planes[1].w
				Y := float64(s/n) - 16
				U := float64(p.planes[1].pix[cy*cw+cx]) - 128
				V := float64(p.planes[2].pix[cy*cw+cx]) - 128
				img.Pix[o] = clampByte(1.164*Y + 1.596*V)
				img.Pix[o+1] = clampByte(1.164*Y - 0.392*U - 0.813*V)
				img.Pix[o+2] = clampByte(1.164*Y + 2.017*U)
			} else {
				var s [3]int
				for c := 0; c < 3; c++ {
					pix := p.planes[c].pix
					for y := y0; y < y0+f; y++ {
						for _, v := range pix[y*p.w+x0 : y*p.w+x0+f] {
							s[c] += int(v)
						}
					}
				}
				img.Pix[o], img.Pix[o+1], img.Pix[o+2] = byte(s[2]/n), byte(s[0]/n), byte(s[1]/n)
			}
			img.Pix[o+3] = 255
		}
	}
	return img
}
