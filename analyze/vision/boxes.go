package vision

import (
	"math"
	"sort"

	"github.com/glasshouse/glasshouse"
)

// Detection is one box found in one image, normalised to the image (0..1).
type Detection struct {
	Class int            // class index (0 for single-class detectors)
	Label string         // class name, if the model has names
	Score float64        // 0..1
	Box   glasshouse.Box // normalised to the source image
}

// IoU is the intersection over union of two boxes (0 when either is empty).
func IoU(a, b glasshouse.Box) float64 {
	x0 := math.Max(a.X, b.X)
	y0 := math.Max(a.Y, b.Y)
	x1 := math.Min(a.X+a.W, b.X+b.W)
	y1 := math.Min(a.Y+a.H, b.Y+b.H)
	if x1 <= x0 || y1 <= y0 {
		return 0
	}
	inter := (x1 - x0) * (y1 - y0)
	union := a.W*a.H + b.W*b.H - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}

// NMS keeps the best-scoring detections and drops any detection that
// overlaps a kept one by more than iou. With perClass, only detections of
// the same class suppress each other. The result is sorted by score,
// highest first; dets is not modified.
func NMS(dets []Detection, iou float64, perClass bool) []Detection {
	d := append([]Detection(nil), dets...)
	sort.SliceStable(d, func(i, j int) bool { return d[i].Score > d[j].Score })
	var keep []Detection
	for _, c := range d {
		ok := true
		for _, k := range keep {
			if perClass && k.Class != c.Class {
				continue
			}
			if IoU(k.Box, c.Box) > iou {
				ok = false
				break
			}
		}
		if ok {
			keep = append(keep, c)
		}
	}
	return keep
}

// Peak is a local maximum of a heatmap.
type Peak struct {
	Class, Y, X int
	Score       float32
}

// Peaks finds the local maxima of a [classes, h, w] heatmap (CHW order)
// that are at least thresh: a cell is a peak when it equals the maximum of
// its 3x3 neighbourhood (the CenterNet decoding step that replaces NMS on
// the heatmap). Peaks are sorted by score, highest first, at most max (0:
// all).
func Peaks(heat []float32, classes, h, w int, thresh float32, max int) []Peak {
	var out []Peak
	for c := 0; c < classes; c++ {
		plane := heat[c*h*w : (c+1)*h*w]
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				v := plane[y*w+x]
				if v < thresh {
					continue
				}
				peak := true
				for dy := -1; dy <= 1 && peak; dy++ {
					yy := y + dy
					if yy < 0 || yy >= h {
						continue
					}
					for dx := -1; dx <= 1; dx++ {
						xx := x + dx
						if xx < 0 || xx >= w || (dx == 0 && dy == 0) {
							continue
						}
						if plane[yy*w+xx] > v {
							peak = false
							break
						}
					}
				}
				if peak {
					out = append(out, Peak{Class: c, Y: y, X: x, Score: v})
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out
}

// Sigmoid is the logistic function.
func Sigmoid(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
