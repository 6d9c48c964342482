package ai_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/ai"
)

// recorder is a fake provider that logs every call, as "<name> <step> <model> <temperature>", into a shared log.
type recorder struct {
	name   string
	mu     *sync.Mutex
	log    *[]string
	fail   string // a step that fails
	gotPer ai.Personalisation
}

func (r *recorder) record(step string, m ai.Model) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.log = append(*r.log, fmt.Sprintf("%s %s %s %.1f", r.name, step, m.Model, m.Temperature))
	if step == r.fail {
		return fmt.Errorf("%s: boom", r.name)
	}
	return nil
}

func (r *recorder) Qualify(_ context.Context, m ai.Model, _ ai.Campaign, l ai.Lead) (ai.Qualification, error) {
	return ai.Qualification{Qualified: true, Score: 0.7, Reason: r.name + " " + l.FirstName}, r.record(ai.StepQualify, m)
}

func (r *recorder) Segment(_ context.Context, m ai.Model, _ ai.Campaign, _ ai.Lead) (ai.Segmentation, error) {
	return ai.Segmentation{Segment: "S-" + r.name}, r.record(ai.StepSegment, m)
}

func (r *recorder) Personalise(_ context.Context, m ai.Model, _ ai.Campaign, _ ai.Lead) (ai.Personalisation, error) {
	return ai.Personalisation{OpeningLine: "open-" + r.name, ValueProp: "value-" + r.name}, r.record(ai.StepPersonalise, m)
}

func (r *recorder) Rewrite(_ context.Context, m ai.Model, _ ai.Campaign, _ ai.Lead, p ai.Personalisation) ([]ai.Email, error) {
	r.gotPer = p
	return []ai.Email{{Step: 1, Subject: "by " + r.name, Paragraphs: []string{p.OpeningLine}}}, r.record(ai.StepRewrite, m)
}

func recorders() (local, openai *recorder, log *[]string) {
	log = new([]string)
	mu := &sync.Mutex{}
	return &recorder{name: "local", mu: mu, log: log}, &recorder{name: "openai", mu: mu, log: log}, log
}

func TestPipelineRunsStepsInOrder(t *testing.T) {
	tests := []struct {
		name   string
		models map[string]ai.Model
		want   []string
		result ai.Result
	}{
		{"no configs: local rules everywhere", nil,
			[]string{"local qualify rules-v1 0.0", "local segment rules-v1 0.0", "local personalise rules-v1 0.0", "local rewrite rules-v1 0.0"},
			ai.Result{
				Qualification:   ai.Qualification{Qualified: true, Score: 0.7, Reason: "local Ada"},
				Segmentation:    ai.Segmentation{Segment: "S-local"},
				Personalisation: ai.Personalisation{OpeningLine: "open-local", ValueProp: "value-local"},
				Emails:          []ai.Email{{Step: 1, Subject: "by local", Paragraphs: []string{"open-local"}}},
			}},
		{"mixed per-step models", map[string]ai.Model{
			ai.StepQualify:     {Provider: "openai", Model: "gpt-4o-mini", Temperature: 0.2},
			ai.StepPersonalise: {Provider: " OpenAI ", Model: "llama3.1", Temperature: 0.7},
			ai.StepRewrite:     {Provider: "", Model: "rules-v2"},
		},
			[]string{"openai qualify gpt-4o-mini 0.2", "local segment rules-v1 0.0", "openai personalise llama3.1 0.7", "local rewrite rules-v2 0.0"},
			ai.Result{
				Qualification:   ai.Qualification{Qualified: true, Score: 0.7, Reason: "openai Ada"},
				Segmentation:    ai.Segmentation{Segment: "S-local"},
				Personalisation: ai.Personalisation{OpeningLine: "open-openai", ValueProp: "value-openai"},
				Emails:          []ai.Email{{Step: 1, Subject: "by local", Paragraphs: []string{"open-openai"}}},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			local, openai, log := recorders()
			res, err := ai.NewPipeline(local, openai).Run(context.Background(), tt.models, testCampaign(), seniorLead())
			require.NoError(t, err)
			require.Equal(t, tt.want, *log)
			require.Equal(t, tt.result, res)
		})
	}
}

func TestPipelineErrors(t *testing.T) {
	tests := []struct {
		name      string
		openai    bool
		models    map[string]ai.Model
		fail      string
		contains  string
		permanent bool
		log       []string
	}{
		{"unknown provider", true, map[string]ai.Model{ai.StepRewrite: {Provider: "anthropic", Model: "x"}}, "",
			`unknown provider "anthropic"`, true, nil},
		{"openai not configured", false, map[string]ai.Model{ai.StepSegment: {Provider: "openai", Model: "gpt-4o"}}, "",
			`provider "openai" is not configured`, true, nil},
		{"a failing step stops the run", true, map[string]ai.Model{ai.StepSegment: {Provider: "openai", Model: "m"}}, ai.StepSegment,
			"segment step: openai: boom", false, []string{"local qualify rules-v1 0.0", "openai segment m 0.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			local, openai, log := recorders()
			openai.fail = tt.fail
			var p *ai.Pipeline
			if tt.openai {
				p = ai.NewPipeline(local, openai)
			} else {
				p = ai.NewPipeline(local, nil)
			}
			_, err := p.Run(context.Background(), tt.models, testCampaign(), seniorLead())
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.contains)
			require.Equal(t, tt.permanent, errors.Is(err, ai.ErrPermanent), err.Error())
			require.Equal(t, tt.log, *log, "providers are resolved before any step runs")
		})
	}
}

func TestNewPipelineNilProviders(t *testing.T) {
	p := ai.NewPipeline(nil, (*ai.OpenAI)(nil))
	require.IsType(t, &ai.Local{}, p.Providers[ai.ProviderLocal])
	require.NotContains(t, p.Providers, ai.ProviderOpenAI)

	res, err := p.Run(context.Background(), nil, testCampaign(), seniorLead())
	require.NoError(t, err)
	require.True(t, res.Qualification.Qualified)
	require.Equal(t, "Tech leaders", res.Segmentation.Segment)
	require.Len(t, res.Emails, 2)
	require.Equal(t, res.Personalisation.OpeningLine, res.Emails[0].Paragraphs[0])

	_, err = p.Run(context.Background(), map[string]ai.Model{ai.StepQualify: {Provider: "openai", Model: "m"}}, testCampaign(), seniorLead())
	require.ErrorIs(t, err, ai.ErrPermanent)
}

func TestModelFor(t *testing.T) {
	models := map[string]ai.Model{ai.StepQualify: {Provider: " OpenAI", Model: "m", Temperature: 0.5}, ai.StepSegment: {Model: "x"}}
	require.Equal(t, ai.Model{Provider: "openai", Model: "m", Temperature: 0.5}, ai.ModelFor(models, ai.StepQualify))
	require.Equal(t, ai.Model{Provider: "local", Model: "x"}, ai.ModelFor(models, ai.StepSegment))
	require.Equal(t, ai.Model{Provider: "local", Model: "rules-v1"}, ai.ModelFor(models, ai.StepRewrite))
	require.Equal(t, ai.DefaultModel, ai.ModelFor(nil, ai.StepPersonalise))
}

// TestPipelineWithOpenAI runs the whole pipeline against a fake chat-completions server that answers by step.
func TestPipelineWithOpenAI(t *testing.T) {
	answers := map[string]string{
		ai.StepQualify:     qualifyAnswer,
		ai.StepSegment:     `{"segment": "Tech leaders", "reason": "CTO"}`,
		ai.StepPersonalise: `{"opening_line": "Hi Ada.", "value_prop": "V."}`,
		ai.StepRewrite:     `{"emails": [{"step": 1, "subject": "A", "paragraphs": ["Hi Ada.", "x"]}, {"step": 2, "subject": "B", "paragraphs": ["y"]}]}`,
	}
	f := newFakeChat(t, func(call int, w http.ResponseWriter, r *http.Request, req sentRequest) {
		user := req.Body.Messages[1].Content
		for step, content := range answers {
			if strings.Contains(user, `"step":"`+step+`"`) {
				_, _ = io.WriteString(w, chatBody(content))
				return
			}
		}
		http.Error(w, "unknown step", http.StatusBadRequest)
	})
	models := map[string]ai.Model{}
	for _, s := range ai.Steps {
		models[s] = testModel
	}
	res, err := ai.NewPipeline(&ai.Local{}, f.provider()).Run(context.Background(), models, testCampaign(), seniorLead())
	require.NoError(t, err)
	require.Equal(t, ai.Result{
		Qualification:   ai.Qualification{Qualified: true, Score: 0.82, Reason: "VP at a mid-size software company"},
		Segmentation:    ai.Segmentation{Segment: "Tech leaders", Reason: "CTO"},
		Personalisation: ai.Personalisation{OpeningLine: "Hi Ada.", ValueProp: "V."},
		Emails: []ai.Email{
			{Step: 1, Subject: "A", Paragraphs: []string{"Hi Ada.", "x"}},
			{Step: 2, Subject: "B", Paragraphs: []string{"y"}},
		},
	}, res)
	require.EqualValues(t, 4, f.calls.Load())
}
