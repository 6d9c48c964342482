package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/errs"
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
		abort(c, errs.PayloadTooLarge, "the body is too large")
		return
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	u := currentUser(c)
	claim, err := s.App.BeginIdempotent(c.Request.Context(), u, app.IdempotentRequest{Key: key, Target: c.Request.Method + " " + c.Request.URL.Path, Body: body})
	if err != nil {
		respondError(c, err)
		return
	}
	if claim.Replay {
		c.Header("Idempotent-Replayed", "true")
		c.Data(claim.Status, "application/json; charset=utf-8", claim.Response)
		c.Abort()
		return
	}
	c.Set(ctxIdempotencyKey, idempotencyClaim{key: key, claimID: claim.ClaimID})
	cw := &captureWriter{ResponseWriter: c.Writer}
	c.Writer = cw
	c.Next()
	s.keepAnswer(c, cw, u, key)
}

// keepAnswer stores the answer cw captured under u's key, even if the client went away. A failure on
// the server (5xx) and a request cut short because its client left (499) are not answers: the key is
// released, so a retry runs again (and finds what the first attempt did: derived ids, keyed Update ids).
func (s *Server) keepAnswer(c *gin.Context, cw *captureWriter, u app.User, key string) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 5*time.Second)
	defer cancel()
	code := cw.Status()
	store := code < 500 && code != statusClientClosed
	answer := cw.buf.Bytes()
	var err error
	if store {
		if answer, err = withoutSecrets(answer, c.GetStringSlice(ctxSecretFields)); err != nil {
			logger(c).Error("idempotency key: the answer carries secrets that cannot be withheld; not stored", zap.Error(err))
			store = false
		}
	}
	if store {
		err = s.App.CompleteIdempotent(sctx, u, key, code, answer)
	} else {
		err = s.App.AbandonIdempotent(sctx, u, key)
	}
	if err != nil {
		logger(c).Error("idempotency key", zap.Error(err))
	}
}

// statusClientClosed is the status of a request cut short because its client went away.
const statusClientClosed = 499

const (
	ctxIdempotencyKey = "signoff.idempotency_key"
	ctxSecretFields   = "signoff.secret_fields"
)

// idempotencyClaim is the Idempotency-Key a request runs under, and the claim of this use of it.
type idempotencyClaim struct {
	key, claimID string
}

// answerHasSecrets marks the answer about to be written as carrying secrets (tokens, share links) in
// the named top-level fields of its JSON object: it must not be cached (Cache-Control: no-store), and
// the copy kept for Idempotency-Key replays has those fields null, so a replay never shows the
// secret again. The first answer is the only one that carries it.
func answerHasSecrets(c *gin.Context, fields ...string) {
	c.Header("Cache-Control", "no-store")
	marked := c.GetStringSlice(ctxSecretFields)
	for _, f := range fields {
		if !slices.Contains(marked, f) {
			marked = append(marked, f)
		}
	}
	c.Set(ctxSecretFields, marked)
}

// withoutSecrets returns the JSON object body with the named top-level fields set to null; body
// itself when no field is named.
func withoutSecrets(body []byte, fields []string) ([]byte, error) {
	if len(fields) == 0 {
		return body, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, fmt.Errorf("withhold %v: %w", fields, err)
	}
	for _, f := range fields {
		if _, ok := obj[f]; ok {
			obj[f] = json.RawMessage("null")
		}
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("withhold %v: %w", fields, err)
	}
	return out, nil
}

// idempotentID is the id of the resource a keyed request creates: derived from the user, the key and
// the key's claim, so a repeat after a crash finds the first one; a fresh random id without a key.
func idempotentID(c *gin.Context, kind string) string {
	v, ok := c.Get(ctxIdempotencyKey)
	if !ok {
		return uuid.NewString()
	}
	k := v.(idempotencyClaim)
	name := "signoff:" + kind + ":" + currentUser(c).ID + ":" + k.key
	if k.claimID != "" {
		name += ":" + k.claimID // a key reused after it expired creates anew
	}
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(name)).String()
}

// defaultDecisionGrace is how long a decision's outcome is awaited after its client went away.
const defaultDecisionGrace = 30 * time.Second

func (s *Server) decisionGrace() time.Duration {
	if s.DecisionGrace > 0 {
		return s.DecisionGrace
	}
	return defaultDecisionGrace
}

// outliveClient returns a context for work whose outcome must be known even when the client gives up
// (it is stored for an Idempotency-Key retry): it ends grace after the request's context ends, not
// at once. done releases it.
func outliveClient(c *gin.Context, grace time.Duration) (ctx context.Context, done func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(c.Request.Context()))
	stop := context.AfterFunc(c.Request.Context(), func() {
		select {
		case <-time.After(grace):
			cancel()
		case <-ctx.Done():
		}
	})
	return ctx, func() {
		stop()
		cancel()
	}
}

// keyedUpdateID is the Update id of a keyed decision, derived like idempotentID: a retry sends the
// Update its first attempt sent, and Temporal answers that Update's outcome rather than running the
// decision again (which would answer 409 already_handled for the caller's own decision). Without
// a key it is empty, and the SDK picks a fresh id.
func keyedUpdateID(c *gin.Context, update string) string {
	if _, ok := c.Get(ctxIdempotencyKey); !ok {
		return ""
	}
	return idempotentID(c, "update:"+update+":"+c.Param("id"))
}

// IdempotencyPruneInterval is how often PruneIdempotencyKeys runs in `signoff api`.
const IdempotencyPruneInterval = time.Hour

// PruneIdempotencyKeys deletes the expired Idempotency-Keys at once and then every interval until ctx
// ends. Lookups already ignore such keys; pruning keeps the table small. Run it beside the handler in
// every API process, after Handler: runs in several processes do no harm.
func (s *Server) PruneIdempotencyKeys(ctx context.Context, every time.Duration) {
	if s.App == nil {
		s.Log.Error("PruneIdempotencyKeys needs Handler first; expired idempotency keys are not pruned")
		return
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		n, err := s.App.PruneIdempotencyKeys(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.Log.Warn("pruning expired idempotency keys", zap.Error(err))
		case n > 0:
			s.Log.Info("expired idempotency keys pruned", zap.Int64("keys", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
