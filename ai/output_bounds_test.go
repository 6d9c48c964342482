package ai_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/ai"
)

// Model output is bounded: what a model (or the local rule set, fed a large campaign) answers must not
// reach the lead's stored result as it came: any length, NUL bytes (which Postgres refuses, failing
// the batch again and again), invalid UTF-8, control characters.

// boundRambler is a provider whose every answer is long and dirty.
type boundRambler struct{ emails int }

// boundDirt is text with every fault a model can produce, repeated to length n.
func boundDirt(n int) string {
	unit := "ok \x00nul \xff\xfe bad \x1b[31m esc \u0085 nel \r\n\tline "
	return strings.Repeat(unit, n/len(unit)+1)[:n]
}

func (p boundRambler) Qualify(context.Context, ai.Model, ai.Campaign, ai.Lead) (ai.Qualification, error) {
	return ai.Qualification{Qualified: true, Score: 1, Reason: boundDirt(300_000)}, nil
}

func (p boundRambler) Segment(context.Context, ai.Model, ai.Campaign, ai.Lead) (ai.Segmentation, error) {
	return ai.Segmentation{Segment: boundDirt(5000), Reason: boundDirt(300_000)}, nil
}

func (p boundRambler) Personalise(context.Context, ai.Model, ai.Campaign, ai.Lead) (ai.Personalisation, error) {
	return ai.Personalisation{OpeningLine: boundDirt(300_000), ValueProp: boundDirt(300_000)}, nil
}

func (p boundRambler) Rewrite(context.Context, ai.Model, ai.Campaign, ai.Lead, ai.Personalisation) ([]ai.Email, error) {
	out := make([]ai.Email, p.emails)
	for i := range out {
		paras := make([]string, 5000)
		for j := range paras {
			paras[j] = boundDirt(2000)
		}
		out[i] = ai.Email{Step: i + 1, Subject: boundDirt(100_000), Paragraphs: paras}
	}
	return out, nil
}

// boundCheck requires v to be clean text of at most max characters; multi-line text may keep line
// breaks and tabs.
func boundCheck(t *testing.T, what, v string, multiline bool, max int) {
	t.Helper()
	require.True(t, utf8.ValidString(v), "%s is not valid UTF-8", what)
	require.LessOrEqual(t, utf8.RuneCountInString(v), max, "%s is longer than %d characters", what, max)
	for _, r := range v {
		if multiline && (r == '\n' || r == '\r' || r == '\t') {
			continue
		}
		require.False(t, unicode.IsControl(r), "%s holds the control character U+%04X", what, r)
	}
}

// TestAIOutputBounded: whatever a provider answers, the pipeline's result is cut to the
// bounds, holds no control characters or invalid UTF-8, and has one email per campaign email.
func TestAIOutputBounded(t *testing.T) {
	c := ai.Campaign{Name: "C", Emails: []ai.EmailStep{{Step: 1, Subject: "S", Body: "B"}, {Step: 2, Subject: "S", Body: "B"}}}
	for _, tc := range []struct {
		name     string
		provider ai.Provider
	}{{"a rambling provider", boundRambler{emails: 7}}} {
		t.Run(tc.name, func(t *testing.T) {
			p := &ai.Pipeline{Providers: map[string]ai.Provider{ai.ProviderLocal: tc.provider}}
			res, err := p.Run(context.Background(), nil, c, ai.Lead{FirstName: "Ada"})
			require.NoError(t, err)
			boundCheck(t, "qualification reason", res.Qualification.Reason, false, ai.MaxReasonChars)
			boundCheck(t, "segment", res.Segmentation.Segment, false, ai.MaxSegmentChars)
			boundCheck(t, "segmentation reason", res.Segmentation.Reason, false, ai.MaxReasonChars)
			boundCheck(t, "opening line", res.Personalisation.OpeningLine, false, ai.MaxLineChars)
			boundCheck(t, "value proposition", res.Personalisation.ValueProp, false, ai.MaxLineChars)
			require.Len(t, res.Emails, len(c.Emails), "one email per campaign email")
			for _, e := range res.Emails {
				boundCheck(t, "subject", e.Subject, false, ai.MaxSubjectChars)
				require.LessOrEqual(t, len(e.Paragraphs), ai.MaxParagraphs)
				total := 0
				for _, para := range e.Paragraphs {
					boundCheck(t, "paragraph", para, true, ai.MaxEmailChars)
					require.NotEmpty(t, strings.TrimSpace(para))
					total += utf8.RuneCountInString(para)
				}
				require.LessOrEqual(t, total, ai.MaxEmailChars, "an email's paragraphs together")
			}
			// What is stored is the JSON of the result: it must not carry a NUL escape Postgres refuses.
			b, err := json.Marshal(res)
			require.NoError(t, err)
			require.NotContains(t, string(b), `\u0000`)
			require.Less(t, len(b), 2_000_000, "the stored result is bounded")
		})
	}

	// The local provider's own output for ordinary content is left as it was.
	local := ai.NewPipeline(nil, nil)
	cc := ai.Campaign{Name: "C", Emails: []ai.EmailStep{{Step: 1, Subject: "Hi {{first_name}}", Body: "Hello {{first_name}},\n\nLine one\nline two."}}}
	lead := ai.Lead{FirstName: "Ada", LastName: "Lovelace", Title: "CTO", CompanyName: "Engines"}
	res, err := local.Run(context.Background(), nil, cc, lead)
	require.NoError(t, err)
	emails, err := (&ai.Local{}).Rewrite(context.Background(), ai.DefaultModel, cc, lead, res.Personalisation)
	require.NoError(t, err)
	require.Equal(t, emails, res.Emails, "ordinary output is not changed by the bounds")
	require.Equal(t, []string{res.Personalisation.OpeningLine, "Hello Ada,", "Line one\nline two."}, res.Emails[0].Paragraphs)
}

// TestOpenAIOverlongAnswerRefused: a chat-completions answer longer than ai.MaxResponseBytes is
// a permanent error after one request (the same request would ramble again), not read whole, and
// not accepted.
func TestOpenAIOverlongAnswerRefused(t *testing.T) {
	var calls atomic.Int32
	content, err := json.Marshal(map[string]any{"qualified": true, "score": 1, "reason": strings.Repeat("very ", ai.MaxResponseBytes/5)})
	require.NoError(t, err)
	body, err := json.Marshal(map[string]any{"choices": []any{map[string]any{"message": map[string]any{"role": "assistant", "content": string(content)}}}})
	require.NoError(t, err)
	require.Greater(t, len(body), ai.MaxResponseBytes)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	p := ai.NewOpenAI(srv.URL, "")
	_, err = p.Qualify(context.Background(), ai.Model{Provider: ai.ProviderOpenAI, Model: "m"}, ai.Campaign{Name: "C"}, ai.Lead{FirstName: "Ada"})
	require.Error(t, err)
	assert.True(t, errors.Is(err, ai.ErrPermanent), "an over-long answer is permanent: %v", err)
	assert.Contains(t, err.Error(), "longer than")
	assert.Equal(t, int32(1), calls.Load(), "not retried")
}
