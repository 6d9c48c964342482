package api

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"

	gingzip "github.com/gin-contrib/gzip"
	"github.com/gin-gonic/gin"
)

// Text answers (JSON, HTML, the review page's script and stylesheet, the OpenAPI document) are
// gzip-compressed for clients that accept it, by gin-contrib/gzip. The two review reads that are
// kept in memory (the page and the JSON answer) are excluded from it: their handlers serve a gzip
// encoding made once per kept answer (serveEncoded), so a cached read costs no compression.

// precompressedRoutes are the routes whose handlers choose their own encoding.
var precompressedRoutes = map[string]bool{
	"/r/:token":                 true,
	"/v1/public/reviews/:token": true,
}

// compress is the gzip middleware of the router.
func compress() gin.HandlerFunc {
	return gingzip.Gzip(gingzip.DefaultCompression, gingzip.WithCustomShouldCompressFn(func(c *gin.Context) bool {
		return acceptsGzip(c.Request) && !precompressedRoutes[c.FullPath()] &&
			!strings.Contains(c.Request.Header.Get("Connection"), "Upgrade")
	}))
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q = strings.TrimSpace(q)
		if v, ok := strings.CutPrefix(q, "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil && f == 0 {
				return false
			}
		}
		return true
	}
	return false
}

// serveEncoded answers 200 with plain, or with its gzip encoding gz when the client accepts gzip.
func serveEncoded(c *gin.Context, contentType string, plain, gz []byte) {
	c.Writer.Header().Add("Vary", "Accept-Encoding")
	if acceptsGzip(c.Request) {
		c.Header("Content-Encoding", "gzip")
		c.Data(http.StatusOK, contentType, gz)
		return
	}
	c.Data(http.StatusOK, contentType, plain)
}

// gzipBytes returns the gzip encoding of b.
func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}
