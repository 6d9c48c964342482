package ai

import (
	"context"
	"fmt"
	"strings"
)

// DefaultModel is the model config of a step the campaign configures no model for.
var DefaultModel = Model{Provider: ProviderLocal, Model: DefaultLocalModel}

// Pipeline runs the four steps on a lead, each with the provider its model config names. Providers is keyed
// by provider name ("local", "openai"); it must not be changed while Run may be running.
type Pipeline struct {
	Providers map[string]Provider
}

// NewPipeline returns a pipeline with the local provider (a zero Local when nil) and, when not nil, the
// OpenAI-compatible one; a step configured for "openai" without it fails with an ErrPermanent error.
func NewPipeline(local Provider, openai Provider) *Pipeline {
	if isNilProvider(local) {
		local = &Local{}
	}
	p := &Pipeline{Providers: map[string]Provider{ProviderLocal: local}}
	if !isNilProvider(openai) {
		p.Providers[ProviderOpenAI] = openai
	}
	return p
}

// isNilProvider reports whether v is nil, including a nil pointer of the package's provider types.
func isNilProvider(v Provider) bool {
	switch p := v.(type) {
	case nil:
		return true
	case *Local:
		return p == nil
	case *OpenAI:
		return p == nil
	}
	return false
}

// ModelFor is the model config of step in models, or DefaultModel when there is none; an empty provider
// name means the local provider.
func ModelFor(models map[string]Model, step string) Model {
	m, ok := models[step]
	if !ok {
		return DefaultModel
	}
	m.Provider = strings.ToLower(strings.TrimSpace(m.Provider))
	if m.Provider == "" {
		m.Provider = ProviderLocal
	}
	return m
}

// provider resolves the provider a model config names.
func (p *Pipeline) provider(step string, m Model) (Provider, error) {
	if prov, ok := p.Providers[m.Provider]; ok && !isNilProvider(prov) {
		return prov, nil
	}
	if m.Provider == ProviderOpenAI {
		return nil, fmt.Errorf("ai: %s step: %w: provider %q is not configured (set SIGNOFF_AI_BASE_URL)",
			step, ErrPermanent, m.Provider)
	}
	return nil, fmt.Errorf("ai: %s step: %w: unknown provider %q", step, ErrPermanent, m.Provider)
}

// Run runs qualify, segment, personalise and rewrite on the lead, in that order, each with the model models
// configures for it (DefaultModel when none). Every provider is resolved before the first step runs; the
// first failing step's error is returned, wrapped with the step's name. The result is cut to the
// bounds of bounds.go (and to one email per campaign email) and cleaned of control characters, so
// whatever a provider answers can be stored.
func (p *Pipeline) Run(ctx context.Context, models map[string]Model, c Campaign, l Lead) (Result, error) {
	var (
		ms    [4]Model
		provs [4]Provider
	)
	for i, step := range []string{StepQualify, StepSegment, StepPersonalise, StepRewrite} {
		ms[i] = ModelFor(models, step)
		prov, err := p.provider(step, ms[i])
		if err != nil {
			return Result{}, err
		}
		provs[i] = prov
	}

	var (
		res Result
		err error
	)
	if res.Qualification, err = provs[0].Qualify(ctx, ms[0], c, l); err != nil {
		return Result{}, fmt.Errorf("ai: %s step: %w", StepQualify, err)
	}
	if res.Segmentation, err = provs[1].Segment(ctx, ms[1], c, l); err != nil {
		return Result{}, fmt.Errorf("ai: %s step: %w", StepSegment, err)
	}
	if res.Personalisation, err = provs[2].Personalise(ctx, ms[2], c, l); err != nil {
		return Result{}, fmt.Errorf("ai: %s step: %w", StepPersonalise, err)
	}
	if res.Emails, err = provs[3].Rewrite(ctx, ms[3], c, l, res.Personalisation); err != nil {
		return Result{}, fmt.Errorf("ai: %s step: %w", StepRewrite, err)
	}
	if res.Emails == nil {
		res.Emails = []Email{}
	}
	res.bound(len(c.Emails))
	return res, nil
}
