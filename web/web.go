// Package web is the browser page of glasshouse: plain HTML, CSS and
// JavaScript embedded into the binary, with no build step and nothing
// loaded from outside the server.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Files returns the embedded page files (index.html, app.js, style.css).
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		// "static" is embedded above; fs.Sub fails only on an invalid name.
		panic(err)
	}
	return sub
}

// csp allows only this origin: scripts, styles, images and media from the
// server itself, and no framing.
const csp = "default-src 'self'; img-src 'self' data:; media-src 'self'; " +
	"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// Handler serves the page at / and its files beside it. Unknown paths get
// 404 from the file server.
func Handler() http.Handler {
	files := http.FileServerFS(Files())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
