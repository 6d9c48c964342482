package ai_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/ai"
)

const testKey = "sk-test-7f3a9c1d0e5b"

// chatBody is a chat-completions answer whose first choice carries content.
func chatBody(content string) string {
	b, _ := json.Marshal(map[string]any{
		"id": "chatcmpl-1", "object": "chat.completion",
		"choices": []map[string]any{{"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": content}}},
	})
	return string(b)
}

// sentRequest is what the fake server saw of one request.
type sentRequest struct {
	Method, Path, Auth, ContentType string
	Body                            struct {
		Model          string   `json:"model"`
		Temperature    *float64 `json:"temperature"`
		ResponseFormat struct {
			Type string `json:"type"`
		} `json:"response_format"`
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
	}
}

// fakeChat is an httptest server speaking chat-completions; respond decides each answer by call number (1-based).
type fakeChat struct {
	srv     *httptest.Server
	calls   atomic.Int32
	mu      sync.Mutex
	reqs    []sentRequest
	respond func(call int, w http.ResponseWriter, r *http.Request, req sentRequest)
}

func newFakeChat(t *testing.T, respond func(call int, w http.ResponseWriter, r *http.Request, req sentRequest)) *fakeChat {
	t.Helper()
	f := &fakeChat{respond: respond}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		call := int(f.calls.Add(1))
		var req sentRequest
		req.Method, req.Path = r.Method, r.URL.Path
		req.Auth, req.ContentType = r.Header.Get("Authorization"), r.Header.Get("Content-Type")
		raw, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(raw, &req.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, req)
		f.mu.Unlock()
		f.respond(call, w, r, req)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeChat) requests() []sentRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentRequest(nil), f.reqs...)
}

// provider is an OpenAI provider for the fake server with fast retries.
func (f *fakeChat) provider() *ai.OpenAI {
	p := ai.NewOpenAI(f.srv.URL+"/v1/", testKey)
	p.Backoff = time.Millisecond
	return p
}

// answer replies 200 with content.
func answer(content string) func(int, http.ResponseWriter, *http.Request, sentRequest) {
	return func(_ int, w http.ResponseWriter, _ *http.Request, _ sentRequest) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, chatBody(content))
	}
}

// statuses answers the calls with the given statuses in turn (the last repeating); 200 carries content.
func statuses(content string, codes ...int) func(int, http.ResponseWriter, *http.Request, sentRequest) {
	return func(call int, w http.ResponseWriter, r *http.Request, req sentRequest) {
		code := codes[min(call, len(codes))-1]
		if code == http.StatusOK {
			answer(content)(call, w, r, req)
			return
		}
		http.Error(w, `{"error":{"message":"status `+http.StatusText(code)+`"}}`, code)
	}
}

var testModel = ai.Model{Provider: "openai", Model: "gpt-4o-mini", Temperature: 0.3}

const qualifyAnswer = `{"qualified": true, "score": 0.82, "reason": "VP at a mid-size software company"}`

func TestOpenAIRequest(t *testing.T) {
	f := newFakeChat(t, answer(qualifyAnswer))
	q, err := f.provider().Qualify(context.Background(), testModel, testCampaign(), seniorLead())
	require.NoError(t, err)
	require.Equal(t, ai.Qualification{Qualified: true, Score: 0.82, Reason: "VP at a mid-size software company"}, q)

	reqs := f.requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	require.Equal(t, http.MethodPost, r.Method)
	require.Equal(t, "/v1/chat/completions", r.Path)
	require.True(t, strings.HasSuffix(r.Path, "/chat/completions"))
	require.Equal(t, "Bearer "+testKey, r.Auth)
	require.Equal(t, "application/json", r.ContentType)
	require.Equal(t, "gpt-4o-mini", r.Body.Model)
	require.NotNil(t, r.Body.Temperature)
	require.InDelta(t, 0.3, *r.Body.Temperature, 1e-9)
	require.Equal(t, "json_object", r.Body.ResponseFormat.Type)

	require.Len(t, r.Body.Messages, 2)
	require.Equal(t, "system", r.Body.Messages[0].Role)
	sys := r.Body.Messages[0].Content
	for _, want := range []string{"qualify", "Friendly and brief.", "Engineering leaders.", `"qualified": boolean`, "JSON"} {
		require.Contains(t, sys, want)
	}
	require.Equal(t, "user", r.Body.Messages[1].Role)
	var user struct {
		Step     string `json:"step"`
		Lead     ai.Lead
		Campaign struct {
			Name     string          `json:"name"`
			Segments []ai.SegmentDef `json:"segments"`
		} `json:"campaign"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.Body.Messages[1].Content), &user))
	require.Equal(t, "qualify", user.Step)
	require.Equal(t, seniorLead(), user.Lead)
	require.Equal(t, "Spring outbound", user.Campaign.Name)
	require.Equal(t, testCampaign().Segments, user.Campaign.Segments)
}

func TestOpenAINoKeyNoAuthHeader(t *testing.T) {
	f := newFakeChat(t, answer(`{"segment":"Fintech","reason":"r"}`))
	p := ai.NewOpenAI(f.srv.URL, "")
	m := ai.Model{Provider: "openai", Model: "llama3.1"} // temperature 0 is still sent
	_, err := p.Segment(context.Background(), m, testCampaign(), seniorLead())
	require.NoError(t, err)
	r := f.requests()[0]
	require.Empty(t, r.Auth)
	require.Equal(t, "/chat/completions", r.Path)
	require.NotNil(t, r.Body.Temperature)
	require.Zero(t, *r.Body.Temperature)
}

func TestOpenAISteps(t *testing.T) {
	ctx := context.Background()
	c := testCampaign()
	l := seniorLead()
	pers := ai.Personalisation{OpeningLine: "Hi Ada!", ValueProp: "We help."}
	tests := []struct {
		name    string
		step    string
		content string
		run     func(p *ai.OpenAI) (any, error)
		want    any
	}{
		{"qualify", ai.StepQualify, "```json\n" + qualifyAnswer + "\n```",
			func(p *ai.OpenAI) (any, error) { return p.Qualify(ctx, testModel, c, l) },
			ai.Qualification{Qualified: true, Score: 0.82, Reason: "VP at a mid-size software company"}},
		{"qualify clamps the score", ai.StepQualify, `{"qualified": false, "score": 7, "reason": "x"}`,
			func(p *ai.OpenAI) (any, error) { return p.Qualify(ctx, testModel, c, l) },
			ai.Qualification{Qualified: false, Score: 1, Reason: "x"}},
		{"segment", ai.StepSegment, `{"segment": "tech LEADERS", "reason": "CTO in software"}`,
			func(p *ai.OpenAI) (any, error) { return p.Segment(ctx, testModel, c, l) },
			ai.Segmentation{Segment: "Tech leaders", Reason: "CTO in software"}},
		{"segment unknown to the campaign", ai.StepSegment, `{"segment": "Aliens", "reason": "r"}`,
			func(p *ai.OpenAI) (any, error) { return p.Segment(ctx, testModel, c, l) },
			ai.Segmentation{Segment: ai.GeneralSegment, Reason: `model chose unknown segment "Aliens"; r`}},
		{"personalise", ai.StepPersonalise, `{"opening_line": " Hi Ada, congrats on the launch. ", "value_prop": "We book meetings."}`,
			func(p *ai.OpenAI) (any, error) { return p.Personalise(ctx, testModel, c, l) },
			ai.Personalisation{OpeningLine: "Hi Ada, congrats on the launch.", ValueProp: "We book meetings."}},
		{"rewrite", ai.StepRewrite,
			`{"emails": [{"step": 1, "subject": "Quick question for Acme", "paragraphs": ["Hi Ada!", " Body. ", ""]},
			             {"subject": "Ada, following up", "paragraphs": ["Bump."]}]}`,
			func(p *ai.OpenAI) (any, error) { return p.Rewrite(ctx, testModel, c, l, pers) },
			[]ai.Email{
				{Step: 1, Subject: "Quick question for Acme", Paragraphs: []string{"Hi Ada!", "Body."}},
				{Step: 2, Subject: "Ada, following up", Paragraphs: []string{"Bump."}},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeChat(t, answer(tt.content))
			got, err := tt.run(f.provider())
			require.NoError(t, err)
			require.Equal(t, tt.want, got)

			reqs := f.requests()
			require.Len(t, reqs, 1)
			require.Contains(t, reqs[0].Body.Messages[0].Content, "the "+tt.step+" step")
			user := reqs[0].Body.Messages[1].Content
			require.Contains(t, user, `"step":"`+tt.step+`"`)
			require.Contains(t, user, `"first_name":"Ada"`)
			require.Contains(t, user, `"company_name":"Acme"`)
			if tt.step == ai.StepRewrite {
				require.Contains(t, user, `"opening_line":"Hi Ada!"`)
				require.Contains(t, user, "Quick question for {{company_name}}")
			}
		})
	}
}

func TestOpenAIRetries(t *testing.T) {
	tests := []struct {
		name      string
		codes     []int
		calls     int
		ok        bool
		permanent bool
	}{
		{"429 twice then 200", []int{429, 429, 200}, 3, true, false},
		{"500 then 200", []int{500, 200}, 2, true, false},
		{"502 503 then 200", []int{502, 503, 200}, 3, true, false},
		{"400 is permanent", []int{400, 200}, 1, false, true},
		{"401 is permanent", []int{401, 200}, 1, false, true},
		{"404 is permanent", []int{404, 200}, 1, false, true},
		{"always 429 gives up", []int{429}, 4, false, false},
		{"always 500 gives up", []int{500}, 4, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeChat(t, statuses(qualifyAnswer, tt.codes...))
			q, err := f.provider().Qualify(context.Background(), testModel, testCampaign(), seniorLead())
			require.Equal(t, tt.calls, int(f.calls.Load()))
			if tt.ok {
				require.NoError(t, err)
				require.True(t, q.Qualified)
				return
			}
			require.Error(t, err)
			require.Equal(t, tt.permanent, errors.Is(err, ai.ErrPermanent), err.Error())
			var se *ai.StatusError
			require.True(t, errors.As(err, &se), err.Error())
			require.Equal(t, tt.codes[min(tt.calls, len(tt.codes))-1], se.StatusCode)
			require.Contains(t, err.Error(), "status ")
			require.NotContains(t, err.Error(), testKey)
		})
	}
}

func TestOpenAIRetriesNetworkErrors(t *testing.T) {
	f := newFakeChat(t, func(call int, w http.ResponseWriter, r *http.Request, req sentRequest) {
		if call == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close() // drop the connection without answering
			}
			return
		}
		answer(qualifyAnswer)(call, w, r, req)
	})
	q, err := f.provider().Qualify(context.Background(), testModel, testCampaign(), seniorLead())
	require.NoError(t, err)
	require.True(t, q.Qualified)
	require.EqualValues(t, 2, f.calls.Load())
}

func TestOpenAIMaxAttempts(t *testing.T) {
	f := newFakeChat(t, statuses(qualifyAnswer, 503))
	p := f.provider()
	p.MaxAttempts = 2
	_, err := p.Qualify(context.Background(), testModel, testCampaign(), seniorLead())
	require.Error(t, err)
	require.False(t, errors.Is(err, ai.ErrPermanent))
	require.Contains(t, err.Error(), "giving up after 2 attempts")
	require.EqualValues(t, 2, f.calls.Load())
}

func TestOpenAIRetryAfter(t *testing.T) {
	f := newFakeChat(t, func(call int, w http.ResponseWriter, r *http.Request, req sentRequest) {
		if call == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		answer(qualifyAnswer)(call, w, r, req)
	})
	p := f.provider()
	p.MaxWait = 60 * time.Millisecond // caps the 1s Retry-After; Backoff alone would wait 1ms
	start := time.Now()
	_, err := p.Qualify(context.Background(), testModel, testCampaign(), seniorLead())
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 60*time.Millisecond)
	require.EqualValues(t, 2, f.calls.Load())
}

func TestOpenAIMalformedAnswers(t *testing.T) {
	tests := []struct {
		name string
		body string // raw 200 body; chat content when it does not start with '{'
		run  func(ctx context.Context, p *ai.OpenAI) error
	}{
		{"content is not JSON", chatBody("Sure! The lead is qualified."), qualify},
		{"content is empty", chatBody(""), qualify},
		{"content has wrong types", chatBody(`{"qualified": "yes", "score": "high"}`), qualify},
		{"content lacks the verdict", chatBody(`{"score": 0.4}`), qualify},
		{"segment missing", chatBody(`{"reason": "r"}`), func(ctx context.Context, p *ai.OpenAI) error {
			_, err := p.Segment(ctx, testModel, testCampaign(), seniorLead())
			return err
		}},
		{"opening line missing", chatBody(`{"value_prop": "v"}`), func(ctx context.Context, p *ai.OpenAI) error {
			_, err := p.Personalise(ctx, testModel, testCampaign(), seniorLead())
			return err
		}},
		{"wrong number of emails", chatBody(`{"emails": [{"step": 1, "subject": "s", "paragraphs": ["p"]}]}`),
			func(ctx context.Context, p *ai.OpenAI) error {
				_, err := p.Rewrite(ctx, testModel, testCampaign(), seniorLead(), ai.Personalisation{})
				return err
			}},
		{"no choices", `{"choices": []}`, qualify},
		{"body is not a chat completion", `<html>gateway</html>`, qualify},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeChat(t, func(_ int, w http.ResponseWriter, _ *http.Request, _ sentRequest) {
				_, _ = io.WriteString(w, tt.body)
			})
			err := tt.run(context.Background(), f.provider())
			require.Error(t, err)
			require.ErrorIs(t, err, ai.ErrPermanent)
			require.EqualValues(t, 1, f.calls.Load(), "a bad answer is not retried")
		})
	}
}

func qualify(ctx context.Context, p *ai.OpenAI) error {
	_, err := p.Qualify(ctx, testModel, testCampaign(), seniorLead())
	return err
}

func TestOpenAIContextCancellation(t *testing.T) {
	// Each cancellation comes from inside the fake server, at a known point of the exchange, so the
	// test does not depend on how fast the machine reaches that point.
	t.Run("stops retrying", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f := newFakeChat(t, func(call int, w http.ResponseWriter, r *http.Request, req sentRequest) {
			statuses(qualifyAnswer, 503)(call, w, r, req) // a retryable failure…
			w.(http.Flusher).Flush()
			cancel() // …and the caller gives up before the retry
		})
		p := f.provider()
		// Without the cancellation the wait before the retry would last MaxWait.
		p.Backoff, p.MaxWait = time.Hour, time.Hour
		start := time.Now()
		err := qualify(ctx, p)
		require.ErrorIs(t, err, context.Canceled)
		require.False(t, errors.Is(err, ai.ErrPermanent))
		require.Less(t, time.Since(start), 5*time.Minute, "the wait before the retry must end with the context")
		require.EqualValues(t, 1, f.calls.Load())
	})
	t.Run("aborts a request in flight", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		aborted := make(chan bool, 1)
		f := newFakeChat(t, func(_ int, _ http.ResponseWriter, r *http.Request, _ sentRequest) {
			cancel() // the caller gives up while the server is still working on the answer
			select {
			case <-r.Context().Done(): // the client closed the connection
				aborted <- true
			case <-time.After(time.Minute):
				aborted <- false
			}
		})
		err := qualify(ctx, f.provider())
		require.ErrorIs(t, err, context.Canceled)
		require.False(t, errors.Is(err, ai.ErrPermanent))
		require.True(t, <-aborted, "the request in flight was not aborted: the server answered after a minute")
		require.EqualValues(t, 1, f.calls.Load())
	})
	t.Run("already cancelled", func(t *testing.T) {
		f := newFakeChat(t, answer(qualifyAnswer))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		require.ErrorIs(t, qualify(ctx, f.provider()), context.Canceled)
		require.Zero(t, f.calls.Load())
	})
}

func TestOpenAIConfigErrors(t *testing.T) {
	f := newFakeChat(t, answer(qualifyAnswer))
	tests := []struct {
		name string
		p    *ai.OpenAI
		m    ai.Model
	}{
		{"no model", f.provider(), ai.Model{Provider: "openai"}},
		{"no base URL", ai.NewOpenAI("", testKey), testModel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.p.Qualify(context.Background(), tt.m, testCampaign(), seniorLead())
			require.ErrorIs(t, err, ai.ErrPermanent)
		})
	}
	require.Zero(t, f.calls.Load())
}

func TestOpenAINeverLeaksTheKey(t *testing.T) {
	// The server echoes the Authorization header back, as a careless proxy might.
	echo := func(code int) func(int, http.ResponseWriter, *http.Request, sentRequest) {
		return func(_ int, w http.ResponseWriter, r *http.Request, _ sentRequest) {
			w.WriteHeader(code)
			_, _ = io.WriteString(w, `{"error":"bad key `+r.Header.Get("Authorization")+`"}`)
		}
	}
	tests := []struct {
		name    string
		respond func(int, http.ResponseWriter, *http.Request, sentRequest)
	}{
		{"400 echoing the key", echo(http.StatusBadRequest)},
		{"401 echoing the key", echo(http.StatusUnauthorized)},
		{"500 echoing the key", echo(http.StatusInternalServerError)},
		{"429 echoing the key", echo(http.StatusTooManyRequests)},
		{"200 that is not a completion, echoing the key", echo(http.StatusOK)},
		{"content echoing the key", func(_ int, w http.ResponseWriter, r *http.Request, _ sentRequest) {
			_, _ = io.WriteString(w, chatBody("not json "+r.Header.Get("Authorization")))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeChat(t, tt.respond)
			err := qualify(context.Background(), f.provider())
			require.Error(t, err)
			require.NotContains(t, err.Error(), testKey)
			for e := err; e != nil; e = errors.Unwrap(e) {
				if se, ok := e.(*ai.StatusError); ok {
					require.NotContains(t, se.Body, testKey)
				}
			}
		})
	}

	t.Run("unreachable server", func(t *testing.T) {
		f := newFakeChat(t, answer(qualifyAnswer))
		p := f.provider()
		f.srv.Close()
		err := qualify(context.Background(), p)
		require.Error(t, err)
		require.False(t, errors.Is(err, ai.ErrPermanent))
		require.NotContains(t, err.Error(), testKey)
	})
}
