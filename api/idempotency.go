package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"regexp"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/signoff/signoff/storage"
)

// IdempotencyKeyHeader makes a POST that creates something safe to retry: a retry with the same
// key (by the same user, with the same body) answers the first answer and does nothing again.
const IdempotencyKeyHeader = "Idempotency-Key"

var validIdempotencyKey = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)

// captureWriter keeps a copy of the answer for storing under the key.
type captureWriter struct {
	gin.ResponseWriter
	buf bytes.Buffer
}

func (w *captureWriter) Write(b []byte) (int, error) {
	w.buf.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *captureWriter) WriteString(s string) (int, error) {
	w.buf.WriteString(s)
	return w.ResponseWriter.WriteString(s)
}

// idempotent runs a creating POST at most once per Idempotency-Key. Without the header the request
// runs as usual. Resources whose id derives from the key (campaigns, approval requests, drafts) are
// also created once if the process dies between its commit and storing the answer.
func (s *Server) idempotent(c *gin.Context) {
	key := c.GetHeader(IdempotencyKeyHeader)
	if key == "" || c.Request.Method != http.MethodPost {
		c.Next()
		return
	}
	if !validIdempotencyKey.MatchString(key) {
		invalid(c, IdempotencyKeyHeader, "must be 1 to 255 printable ASCII characters, such as a UUID")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes))
	if err != nil {
		abort(c, http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "the body is too large")
		return
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	h := sha256.New()
	h.Write([]byte(c.Request.Method + " " + c.Request.URL.Path + "\n"))
	h.Write(body)
	u := currentUser(c)
	ctx := c.Request.Context()
	state, status, stored, err := s.Store.BeginIdempotent(ctx, u.ID, key, h.Sum(nil))
	if err != nil {
		s.fail(c, err)
		return
	}
	switch state {
	case storage.IdempotencyReplay:
		c.Header("Idempotent-Replayed", "true")
		c.Data(status, "application/json; charset=utf-8", stored)
		c.Abort()
		return
	case storage.IdempotencyInProgress:
		c.Header("Retry-After", "1")
		abort(c, http.StatusConflict, "idempotency_in_progress", "a request with this Idempotency-Key is still running; retry in a moment")
		return
	case storage.IdempotencyMismatch:
		invalid(c, IdempotencyKeyHeader, "was already used for a different request; use a new key")
		return
	}
	c.Set(ctxIdempotencyKey, key)
	cw := &captureWriter{ResponseWriter: c.Writer}
	c.Writer = cw
	c.Next()
	// Store or release the key even if the client went away.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if code := cw.Status(); code >= 500 {
		err = s.Store.AbandonIdempotent(sctx, u.ID, key)
	} else {
		err = s.Store.CompleteIdempotent(sctx, u.ID, key, code, cw.buf.Bytes())
	}
	if err != nil {
		logger(c).Error("idempotency key", zap.Error(err))
	}
}

const ctxIdempotencyKey = "signoff.idempotency_key"

// idempotentID is the id of the resource a keyed request creates: derived from the user and the key,
// so a repeat after a crash finds the first one; a fresh random id without a key.
func idempotentID(c *gin.Context, kind string) string {
	key, ok := c.Get(ctxIdempotencyKey)
	if !ok {
		return uuid.NewString()
	}
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("signoff:"+kind+":"+currentUser(c).ID+":"+key.(string))).String()
}
