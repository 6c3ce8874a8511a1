package httpapi

import (
	"mime"
	"net/http"
	"path"
	"strings"
	"unicode"

	"github.com/glasshouse/glasshouse"
)

// content serves the original, thumbnail or poster of an asset with range
// support (so video can seek), its media type, ETag = content hash and a
// Content-Disposition with a safe file name (?download=1: attachment).
func (a *api) content(which string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := a.assetID(w, r)
		if !ok {
			return
		}
		c, err := a.svc.OpenContent(r.Context(), actorFrom(r), id, which)
		if err != nil {
			a.writeError(w, r, "open "+which, err)
			return
		}
		defer c.Close()
		cache := "private, no-cache"
		if which != "original" {
			// Thumbnails and posters are regenerated rarely; the ETag
			// revalidates them.
			cache = "private, max-age=300"
		}
		fallback := string(id)
		if which != "original" {
			fallback += "-" + which + ".jpg"
		}
		a.serveContent(w, r, c, fallback, cache)
	}
}

// blob serves a derived blob (a keyframe). Blobs are content addressed, so
// they never change under their ref.
func (a *api) blob(w http.ResponseWriter, r *http.Request) {
	ref, err := glasshouse.ParseRef(r.PathValue("ref"))
	if err != nil {
		a.writeError(w, r, "blob", err)
		return
	}
	c, err := a.svc.OpenBlob(r.Context(), actorFrom(r), ref)
	if err != nil {
		a.writeError(w, r, "open blob", err)
		return
	}
	defer c.Close()
	if c.Hash == "" {
		c.Hash = ref
	}
	a.serveContent(w, r, c, string(ref), "private, max-age=31536000, immutable")
}

func (a *api) serveContent(w http.ResponseWriter, r *http.Request, c *glasshouse.Content, fallbackName, cache string) {
	h := w.Header()
	mt := c.MediaType
	if mt == "" {
		mt = "application/octet-stream"
	}
	h.Set("Content-Type", mt)
	h.Set("X-Content-Type-Options", "nosniff")
	// Uploaded files are served from our origin: never let one run script
	// there (an SVG or HTML opened directly).
	h.Set("Content-Security-Policy", "sandbox")
	h.Set("Cache-Control", cache)
	if c.Hash != "" {
		h.Set("ETag", `"`+string(c.Hash)+`"`)
	}
	disp := "inline"
	if v := r.URL.Query().Get("download"); v == "1" || v == "true" {
		disp = "attachment"
	}
	h.Set("Content-Disposition", contentDisposition(disp, c.Name, fallbackName))
	// ServeContent answers Range, If-Range, If-None-Match (against our ETag)
	// and HEAD; it finds the size by seeking. A zero Modified is ignored.
	http.ServeContent(w, r, "", c.Modified, c)
}

// contentDisposition builds the header value with a file name that cannot
// break out of the header or name a path: control characters, quotes,
// backslashes and path separators are replaced, and non-ASCII names are
// RFC 2231 encoded by mime.FormatMediaType.
func contentDisposition(disp, name, fallback string) string {
	name = safeFilename(name)
	if name == "" {
		name = safeFilename(fallback)
	}
	if name == "" {
		return disp
	}
	if v := mime.FormatMediaType(disp, map[string]string{"filename": name}); v != "" {
		return v
	}
	return disp
}

func safeFilename(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(name)
	if name == "." || name == "/" || name == ".." {
		return ""
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case r == '"' || r == '/' || r == '\\' || r == ';':
			return '_'
		case unicode.IsControl(r) || r == unicode.ReplacementChar:
			return -1
		case unicode.Is(unicode.Cf, r): // format characters such as RTL overrides
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(strings.Trim(name, "."))
	if len(name) > 200 {
		// keep the extension, cut at a rune boundary
		ext := path.Ext(name)
		if len(ext) > 16 {
			ext = ""
		}
		cut := 200 - len(ext)
		for cut > 0 && !utf8RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut] + ext
	}
	return name
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// export serves captions or insights in the format of ?format=.
func (a *api) export(w http.ResponseWriter, r *http.Request) {
	id, ok := a.assetID(w, r)
	if !ok {
		return
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "vtt"
	}
	c, err := a.svc.Export(r.Context(), actorFrom(r), id, format)
	if err != nil {
		a.writeError(w, r, "export", err)
		return
	}
	defer c.Close()
	a.serveContent(w, r, c, string(id)+"."+format, "private, no-cache")
}
