package redact

import (
	"image"
	"math"
	"sort"
)

// tiles covers a w×h picture with squares of side size overlapping by at
// least overlap (0..1 of size), row by row.
func tiles(w, h, size int, overlap float64) []image.Rectangle {
	size = min(size, w, h)
	if size <= 0 {
		return nil
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
	var out []image.Rectangle
	for _, y := range starts(h) {
		for _, x := range starts(w) {
			out = append(out, image.Rect(x, y, x+size, y+size))
		}
	}
	return out
}

// suppress keeps the best of overlapping detections: a box that overlaps a
// better one by IoU 0.3, or lies mostly (0.6) inside it, is dropped (the
// same face seen whole and in a tile).
func suppress(dets []Detection) []Detection {
	sort.SliceStable(dets, func(i, j int) bool { return dets[i].Score > dets[j].Score })
	var keep []Detection
	for _, d := range dets {
		ok := true
		for _, k := range keep {
			if iou(d.Box, k.Box) > 0.3 || containment(d.Box, k.Box) > 0.6 {
				ok = false
				break
			}
		}
		if ok {
			keep = append(keep, d)
		}
	}
	return keep
}
