// Package webtest drives the glasshouse web page in a real headless
// Chromium (Debian package chromium) against a real server: SQLite catalog,
// file blob store and the real analyzers (ffprobe, shots, tesseract OCR,
// pocketsphinx speech, keywords). It holds tests only; they skip when
// /usr/bin/chromium or ffmpeg is missing.
//
//	go test ./webtest/ -v
//	GLASSHOUSE_SCREENSHOTS=/tmp/shots go test ./webtest/   # keep the screenshots
package webtest
