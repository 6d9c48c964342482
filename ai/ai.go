// Package ai is the AI pipeline of SPEC §8: four steps (qualify, segment, personalise, rewrite) run on
// every lead by the provider each campaign's AI model configs choose.
package ai

import (
	"context"
	"errors"
)

// The four pipeline steps, in order.
const (
	StepQualify     = "qualify"
	StepSegment     = "segment"
	StepPersonalise = "personalise"
	StepRewrite     = "rewrite"
)

// Steps lists the pipeline steps in the order they run.
var Steps = []string{StepQualify, StepSegment, StepPersonalise, StepRewrite}

// ErrPermanent marks a provider error that retrying cannot fix (a 4xx other than 429, a bad answer).
var ErrPermanent = errors.New("ai: permanent provider error")

// Model is the provider configuration of one step (a campaign's AI model config).
type Model struct {
	Provider    string  `json:"provider"`
	Model       string  `json:"model"`
	Temperature float64 `json:"temperature"`
}

// Lead is the person the pipeline works on.
type Lead struct {
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
	Title       string `json:"title"`
	CompanyName string `json:"company_name"`
	Domain      string `json:"domain"`
	Industry    string `json:"industry"`
	Country     string `json:"country"`
	CompanySize *int   `json:"company_size"`
}

// SegmentDef is one audience segment the segment step may assign.
type SegmentDef struct {
	Name       string   `json:"name"`
	Titles     []string `json:"titles"`
	Industries []string `json:"industries"`
	Countries  []string `json:"countries"`
}

// EmailStep is one email of the campaign's sequence, as written by the campaign's authors.
type EmailStep struct {
	Step    int    `json:"step"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// Campaign is what the pipeline knows of the campaign: its prompts, segments and email copy.
type Campaign struct {
	Name     string            `json:"name"`
	Prompts  map[string]string `json:"prompts"`
	Segments []SegmentDef      `json:"segments"`
	Emails   []EmailStep       `json:"emails"`
}

// Qualification is the qualify step's verdict.
type Qualification struct {
	Qualified bool    `json:"qualified"`
	Score     float64 `json:"score"`
	Reason    string  `json:"reason"`
}

// Segmentation is the segment step's choice.
type Segmentation struct {
	Segment string `json:"segment"`
	Reason  string `json:"reason"`
}

// Personalisation is the personalise step's output: lines that open and tailor the emails.
type Personalisation struct {
	OpeningLine string `json:"opening_line"`
	ValueProp   string `json:"value_prop"`
}

// Email is one rewritten email for one lead.
type Email struct {
	Step       int      `json:"step"`
	Subject    string   `json:"subject"`
	Paragraphs []string `json:"paragraphs"`
}

// Result is everything the pipeline produced for one lead; it is attached to the lead once.
type Result struct {
	Qualification   Qualification   `json:"qualification"`
	Segmentation    Segmentation    `json:"segmentation"`
	Personalisation Personalisation `json:"personalisation"`
	Emails          []Email         `json:"emails"`
}

// Provider runs the four steps. Implementations are safe for concurrent use.
type Provider interface {
	Qualify(ctx context.Context, m Model, c Campaign, l Lead) (Qualification, error)
	Segment(ctx context.Context, m Model, c Campaign, l Lead) (Segmentation, error)
	Personalise(ctx context.Context, m Model, c Campaign, l Lead) (Personalisation, error)
	Rewrite(ctx context.Context, m Model, c Campaign, l Lead, p Personalisation) ([]Email, error)
}
