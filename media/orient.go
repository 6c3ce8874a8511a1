package media

// ImageOrientFilter returns the ffmpeg filter that turns the image at path
// upright by its EXIF orientation ("" when none is needed). Decode it with
// -noautorotate and this filter to get the picture as Probe sizes it.
func ImageOrientFilter(path string) string {
	head, err := readHead(path, 64<<10)
	if err != nil {
		return ""
	}
	return orientFilter(exifOrientation(head))
}
