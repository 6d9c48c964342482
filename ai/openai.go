package ai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Defaults of the OpenAI-compatible provider.
const (
	DefaultMaxAttempts = 4
	DefaultBackoff     = 200 * time.Millisecond
	DefaultHTTPTimeout = 60 * time.Second
	DefaultMaxWait     = 10 * time.Second
)

// MaxResponseBytes bounds a chat-completions answer: a longer one is refused as a permanent error (not
// retried, since the same request would ramble again) instead of being read whole or cut into JSON
// that no longer parses. One step's answer for the largest campaign is well below it.
const MaxResponseBytes = 1 << 20

// excerptLen bounds the answer excerpt an error carries.
const excerptLen = 200

// OpenAI is the provider that asks an OpenAI-compatible chat-completions API (hosted, or a local server such
// as Ollama or vLLM) for each step's JSON answer. It is safe for concurrent use.
type OpenAI struct {
	// BaseURL is the API root the path /chat/completions is appended to, e.g. https://api.openai.com/v1.
	BaseURL string
	// APIKey is sent as a bearer token; when empty no Authorization header is sent.
	APIKey string
	// HTTP is the client requests go through; nil means a client with DefaultHTTPTimeout.
	HTTP *http.Client
	// MaxAttempts is how many times a request is tried in all; zero or less means DefaultMaxAttempts.
	MaxAttempts int
	// Backoff is the wait before the first retry, doubled before each further one; zero means DefaultBackoff.
	Backoff time.Duration
	// MaxWait caps any one wait between attempts, Retry-After included; zero means DefaultMaxWait.
	MaxWait time.Duration
}

var _ Provider = (*OpenAI)(nil)

// NewOpenAI returns a provider for the API at baseURL (a trailing slash is trimmed) authenticated by apiKey,
// with the default attempts, backoff and HTTP timeout.
func NewOpenAI(baseURL, apiKey string) *OpenAI {
	return &OpenAI{
		BaseURL:     strings.TrimRight(strings.TrimSpace(baseURL), "/"),
		APIKey:      apiKey,
		HTTP:        &http.Client{Timeout: DefaultHTTPTimeout},
		MaxAttempts: DefaultMaxAttempts,
		Backoff:     DefaultBackoff,
		MaxWait:     DefaultMaxWait,
	}
}

// StatusError is a non-2xx answer of the chat-completions endpoint. It wraps ErrPermanent unless the status
// (429 or 5xx) is worth retrying.
type StatusError struct {
	StatusCode int
	// Body is a short excerpt of the answer's body.
	Body string
}

// Error describes the status and the body excerpt.
func (e *StatusError) Error() string {
	s := fmt.Sprintf("status %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// Retryable reports whether the status is one a later attempt may cure (429 or 5xx).
func (e *StatusError) Retryable() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// Unwrap returns ErrPermanent for a status not worth retrying, nil otherwise.
func (e *StatusError) Unwrap() error {
	if e.Retryable() {
		return nil
	}
	return ErrPermanent
}

// redactedError hides the API key in the message of an error while keeping it matchable with errors.Is/As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact replaces the API key wherever it appears in s.
func (p *OpenAI) redact(s string) string {
	if p.APIKey == "" {
		return s
	}
	return strings.ReplaceAll(s, p.APIKey, "[REDACTED]")
}

// redactErr makes sure err's message does not carry the API key.
func (p *OpenAI) redactErr(err error) error {
	if err == nil || p.APIKey == "" || !strings.Contains(err.Error(), p.APIKey) {
		return err
	}
	return &redactedError{msg: p.redact(err.Error()), err: err}
}

// chatMessage is one message of a chat-completions request or answer.
type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// chatRequest is the body POSTed to /chat/completions.
type chatRequest struct {
	Model          string         `json:"model"`
	Temperature    float64        `json:"temperature"`
	ResponseFormat responseFormat `json:"response_format"`
	Messages       []chatMessage  `json:"messages"`
}

type responseFormat struct {
	Type string `json:"type"`
}

// chatResponse is the part of a chat-completions answer the provider reads.
type chatResponse struct {
	Choices []struct {
		Message chatMessage `json:"message"`
	} `json:"choices"`
}

// campaignContext is what the user message tells the model of the campaign.
type campaignContext struct {
	Name     string       `json:"name"`
	Segments []SegmentDef `json:"segments"`
	Emails   []EmailStep  `json:"emails,omitempty"`
}

// userPayload is the JSON document sent as the user message.
type userPayload struct {
	Step            string           `json:"step"`
	Campaign        campaignContext  `json:"campaign"`
	Lead            Lead             `json:"lead"`
	Personalisation *Personalisation `json:"personalisation,omitempty"`
}

// Step instructions and the JSON shape each step must answer with.
var (
	stepTask = map[string]string{
		StepQualify: "Decide whether the lead is a good fit for the campaign, judging the seniority of their title, " +
			"their company and its size, and how well their industry matches the campaign's segments.",
		StepSegment: "Assign the lead to exactly one of the campaign's segments, by name, or to \"" + GeneralSegment +
			"\" when none fits.",
		StepPersonalise: "Write a one-sentence opening line addressed to the lead by first name, and a one-sentence " +
			"value proposition tailored to their title, company and industry. Do not invent facts about the lead.",
		StepRewrite: "Rewrite every email of the campaign for the lead, in the same order and with the same step " +
			"numbers. Replace the placeholders {{first_name}}, {{last_name}}, {{company_name}}, {{title}} and " +
			"{{industry}} with the lead's values (use a natural fallback such as \"your team\" for missing ones), " +
			"keep the authors' meaning and tone, make the personalisation's opening line the first paragraph of " +
			"the first email, and split each body into paragraphs.",
	}
	stepShape = map[string]string{
		StepQualify:     `{"qualified": boolean, "score": number between 0 and 1, "reason": string}`,
		StepSegment:     `{"segment": string, "reason": string}`,
		StepPersonalise: `{"opening_line": string, "value_prop": string}`,
		StepRewrite:     `{"emails": [{"step": integer, "subject": string, "paragraphs": [string]}]}`,
	}
)

// systemPrompt builds the instructions of one step, including the campaign's prompts.
func systemPrompt(step string, c Campaign) string {
	var b strings.Builder
	fmt.Fprintf(&b, "You are the %s step of a B2B outbound email pipeline, working on one lead of the campaign %q.\n",
		step, c.Name)
	b.WriteString(stepTask[step])
	b.WriteString("\nThe user message is a JSON document describing the campaign and the lead.\n")
	if len(c.Prompts) > 0 {
		names := make([]string, 0, len(c.Prompts))
		for n := range c.Prompts {
			names = append(names, n)
		}
		sort.Strings(names)
		b.WriteString("\nThe campaign's authors give these instructions:\n")
		for _, n := range names {
			fmt.Fprintf(&b, "- %s: %s\n", n, strings.TrimSpace(c.Prompts[n]))
		}
	}
	b.WriteString("\nAnswer with a single JSON object and nothing else, of exactly this shape:\n")
	b.WriteString(stepShape[step])
	return b.String()
}

// complete asks the model for one step's answer and decodes it into out, retrying transient failures.
func (p *OpenAI) complete(ctx context.Context, step string, m Model, c Campaign, payload userPayload, out any) error {
	err := p.completeRaw(ctx, step, m, c, payload, out)
	if err != nil {
		err = p.redactErr(fmt.Errorf("ai: openai %s: %w", step, err))
	}
	return err
}

func (p *OpenAI) completeRaw(ctx context.Context, step string, m Model, c Campaign, payload userPayload, out any) error {
	if p.BaseURL == "" {
		return fmt.Errorf("%w: no base URL configured (SIGNOFF_AI_BASE_URL)", ErrPermanent)
	}
	if strings.TrimSpace(m.Model) == "" {
		return fmt.Errorf("%w: no model configured", ErrPermanent)
	}
	user, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("%w: encoding the request: %v", ErrPermanent, err)
	}
	body, err := json.Marshal(chatRequest{
		Model:          m.Model,
		Temperature:    m.Temperature,
		ResponseFormat: responseFormat{Type: "json_object"},
		Messages: []chatMessage{
			{Role: "system", Content: systemPrompt(step, c)},
			{Role: "user", Content: string(user)},
		},
	})
	if err != nil {
		return fmt.Errorf("%w: encoding the request: %v", ErrPermanent, err)
	}

	attempts := p.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	backoff := p.Backoff
	if backoff <= 0 {
		backoff = DefaultBackoff
	}
	maxWait := p.MaxWait
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}

	var lastErr error
	for attempt := 1; ; attempt++ {
		content, retryAfter, err := p.post(ctx, body)
		if err == nil {
			if err := decodeContent(content, out); err != nil {
				return fmt.Errorf("%w: unparseable answer: %v", ErrPermanent, err)
			}
			return nil
		}
		if errors.Is(err, ErrPermanent) {
			return err
		}
		lastErr = err
		if ctx.Err() != nil {
			return fmt.Errorf("%w (after %d attempts: %v)", ctx.Err(), attempt, lastErr)
		}
		if attempt >= attempts {
			return fmt.Errorf("giving up after %d attempts: %w", attempt, lastErr)
		}
		wait := backoff
		for i := 1; i < attempt && wait < maxWait; i++ {
			wait *= 2
		}
		if retryAfter > 0 {
			wait = retryAfter
		}
		wait = min(wait, maxWait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (after %d attempts: %v)", ctx.Err(), attempt, lastErr)
		case <-t.C:
		}
	}
}

// post makes one request, returning the first choice's content, or an error and how long the server
// asked to wait (Retry-After) before the next attempt.
func (p *OpenAI) post(ctx context.Context, body []byte) (string, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(p.BaseURL, "/")+"/chat/completions",
		bytes.NewReader(body))
	if err != nil {
		return "", 0, fmt.Errorf("%w: building the request: %v", ErrPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if p.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+p.APIKey)
	}
	client := p.HTTP
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("request failed: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return "", 0, fmt.Errorf("reading the answer: %w", err)
	}
	if len(raw) > MaxResponseBytes && resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return "", 0, fmt.Errorf("%w: the answer is longer than %d bytes", ErrPermanent, MaxResponseBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		se := &StatusError{StatusCode: resp.StatusCode, Body: p.redact(excerpt(raw))}
		if se.Retryable() {
			return "", retryAfter(resp.Header.Get("Retry-After")), se
		}
		return "", 0, se
	}
	var cr chatResponse
	if err := json.Unmarshal(raw, &cr); err != nil {
		return "", 0, fmt.Errorf("%w: answer is not a chat completion: %v (%s)", ErrPermanent, err, p.redact(excerpt(raw)))
	}
	if len(cr.Choices) == 0 {
		return "", 0, fmt.Errorf("%w: answer has no choices (%s)", ErrPermanent, p.redact(excerpt(raw)))
	}
	return cr.Choices[0].Message.Content, 0, nil
}

// defaultClient serves an OpenAI whose HTTP field is nil.
var defaultClient = &http.Client{Timeout: DefaultHTTPTimeout}

// excerpt is the start of a body, on one line, for error messages.
func excerpt(raw []byte) string {
	s := strings.Join(strings.Fields(string(raw)), " ")
	if r := []rune(s); len(r) > excerptLen {
		s = string(r[:excerptLen]) + "…"
	}
	return s
}

// retryAfter reads a Retry-After header given in seconds or as an HTTP date; 0 when absent or unusable.
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// decodeContent parses a message's content as JSON into out, tolerating a Markdown code fence around it.
func decodeContent(content string, out any) error {
	s := strings.TrimSpace(content)
	if strings.HasPrefix(s, "```") {
		s = strings.TrimPrefix(s, "```")
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:] // drop the fence's language tag
		}
		s = strings.TrimSuffix(strings.TrimSpace(s), "```")
	}
	if s == "" {
		return errors.New("empty content")
	}
	return json.Unmarshal([]byte(s), out)
}

// payload is the user message of one step; withEmails adds the campaign's email copy.
func (p *OpenAI) payload(step string, c Campaign, l Lead, withEmails bool) userPayload {
	cc := campaignContext{Name: c.Name, Segments: c.Segments}
	if cc.Segments == nil {
		cc.Segments = []SegmentDef{}
	}
	if withEmails {
		cc.Emails = c.Emails
	}
	return userPayload{Step: step, Campaign: cc, Lead: l}
}

// Qualify asks the model whether the lead fits the campaign; the score is clamped to [0, 1].
func (p *OpenAI) Qualify(ctx context.Context, m Model, c Campaign, l Lead) (Qualification, error) {
	var ans struct {
		Qualified *bool    `json:"qualified"`
		Score     *float64 `json:"score"`
		Reason    string   `json:"reason"`
	}
	if err := p.complete(ctx, StepQualify, m, c, p.payload(StepQualify, c, l, false), &ans); err != nil {
		return Qualification{}, err
	}
	if ans.Qualified == nil {
		return Qualification{}, fmt.Errorf("ai: openai %s: %w: answer lacks \"qualified\"", StepQualify, ErrPermanent)
	}
	q := Qualification{Qualified: *ans.Qualified, Reason: strings.TrimSpace(ans.Reason)}
	switch {
	case ans.Score != nil:
		q.Score = min(max(*ans.Score, 0), 1)
	case q.Qualified:
		q.Score = 1
	}
	return q, nil
}

// Segment asks the model to pick one of the campaign's segments; a name the campaign does not define
// becomes GeneralSegment.
func (p *OpenAI) Segment(ctx context.Context, m Model, c Campaign, l Lead) (Segmentation, error) {
	var ans Segmentation
	if err := p.complete(ctx, StepSegment, m, c, p.payload(StepSegment, c, l, false), &ans); err != nil {
		return Segmentation{}, err
	}
	name := strings.TrimSpace(ans.Segment)
	if name == "" {
		return Segmentation{}, fmt.Errorf("ai: openai %s: %w: answer lacks \"segment\"", StepSegment, ErrPermanent)
	}
	out := Segmentation{Segment: GeneralSegment, Reason: strings.TrimSpace(ans.Reason)}
	found := norm(name) == norm(GeneralSegment)
	for _, s := range c.Segments {
		if !found && norm(s.Name) == norm(name) {
			out.Segment, found = s.Name, true
		}
	}
	if !found {
		out.Reason = strings.TrimSpace(fmt.Sprintf("model chose unknown segment %q; %s", name, out.Reason))
	}
	return out, nil
}

// Personalise asks the model for the lead's opening line and value proposition.
func (p *OpenAI) Personalise(ctx context.Context, m Model, c Campaign, l Lead) (Personalisation, error) {
	var ans Personalisation
	if err := p.complete(ctx, StepPersonalise, m, c, p.payload(StepPersonalise, c, l, true), &ans); err != nil {
		return Personalisation{}, err
	}
	ans.OpeningLine, ans.ValueProp = strings.TrimSpace(ans.OpeningLine), strings.TrimSpace(ans.ValueProp)
	if ans.OpeningLine == "" {
		return Personalisation{}, fmt.Errorf("ai: openai %s: %w: answer lacks \"opening_line\"", StepPersonalise, ErrPermanent)
	}
	return ans, nil
}

// Rewrite asks the model to rewrite every email of the campaign for the lead; the answer must hold one email
// per campaign email, and a missing step number is taken from the campaign's email at the same position.
func (p *OpenAI) Rewrite(ctx context.Context, m Model, c Campaign, l Lead, pers Personalisation) ([]Email, error) {
	payload := p.payload(StepRewrite, c, l, true)
	payload.Personalisation = &pers
	var ans struct {
		Emails []Email `json:"emails"`
	}
	if err := p.complete(ctx, StepRewrite, m, c, payload, &ans); err != nil {
		return nil, err
	}
	if len(ans.Emails) != len(c.Emails) {
		return nil, fmt.Errorf("ai: openai %s: %w: answer has %d emails, the campaign %d",
			StepRewrite, ErrPermanent, len(ans.Emails), len(c.Emails))
	}
	out := make([]Email, 0, len(ans.Emails))
	for i, e := range ans.Emails {
		if e.Step == 0 {
			e.Step = c.Emails[i].Step
		}
		e.Subject = strings.TrimSpace(e.Subject)
		paras := make([]string, 0, len(e.Paragraphs))
		for _, para := range e.Paragraphs {
			if para = strings.TrimSpace(para); para != "" {
				paras = append(paras, para)
			}
		}
		e.Paragraphs = paras
		out = append(out, e)
	}
	return out, nil
}
