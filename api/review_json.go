package api

import (
	"encoding/json"
	"time"

	"github.com/signoff/signoff/app"
)

// reviewItemRequest is the body of PUT …/items/{target}.
type reviewItemRequest struct {
	Verdict Optional[string] `json:"verdict"`
	Comment string           `json:"comment"`
	Author  string           `json:"author"`
}

// toReviewItemInput maps a verdict on target to the use case's input: an absent and a null verdict
// both clear it.
func toReviewItemInput(target string, r reviewItemRequest) app.ReviewItemInput {
	return app.ReviewItemInput{Target: target, Verdict: r.Verdict.Value, Comment: r.Comment, Author: r.Author}
}

// reviewCommentRequest is the body of POST …/comments.
type reviewCommentRequest struct {
	Target  string `json:"target"`
	Quote   string `json:"quote"`
	Comment string `json:"comment"`
	Kind    string `json:"kind"`
	Author  string `json:"author"`
}

func toReviewCommentInput(r reviewCommentRequest) app.ReviewCommentInput {
	return app.ReviewCommentInput{Target: r.Target, Quote: r.Quote, Comment: r.Comment, Kind: r.Kind, Author: r.Author}
}

// submitReviewRequest is the body of POST …/submit; it may be empty.
type submitReviewRequest struct {
	Author string `json:"author"`
}

// reviewItemJSON answers a saved verdict; its fields are in the order the answer always had.
type reviewItemJSON struct {
	Author  string  `json:"author"`
	Comment string  `json:"comment"`
	Target  string  `json:"target"`
	Verdict *string `json:"verdict"`
}

// submittedReviewJSON answers a submitted review.
type submittedReviewJSON struct {
	Status      string     `json:"status"`
	SubmittedAt *time.Time `json:"submitted_at"`
}

// reviewJSON is the public JSON of a draft under review (R-REVIEW-3): the frozen snapshot, each
// lead's AI result, the saved feedback and the status. No internal id of any account appears.
type reviewJSON struct {
	Status      string               `json:"status"`
	Name        string               `json:"name"`
	SubmittedAt *time.Time           `json:"submitted_at"`
	Campaign    snapshotCampaignJSON `json:"campaign"`
	Audience    snapshotAudienceJSON `json:"audience"`
	Leads       []reviewLeadJSON     `json:"leads"`
	Emails      []snapshotEmailJSON  `json:"emails"`
	Feedback    []feedbackItemJSON   `json:"feedback"`
}

type snapshotCampaignJSON struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
}

type snapshotAudienceJSON struct {
	Description string                `json:"description"`
	Segments    []snapshotSegmentJSON `json:"segments"`
}

type snapshotSegmentJSON struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Filters     searchFiltersJSON `json:"filters"`
}

// reviewLeadJSON is a sample lead with its AI result (null while pending).
type reviewLeadJSON struct {
	ID          string          `json:"id"`
	FirstName   string          `json:"first_name"`
	LastName    string          `json:"last_name"`
	Title       string          `json:"title"`
	CompanyName string          `json:"company_name"`
	Domain      string          `json:"domain"`
	Industry    string          `json:"industry"`
	Country     string          `json:"country"`
	CompanySize *int            `json:"company_size"`
	AI          json.RawMessage `json:"ai"`
}

type snapshotEmailJSON struct {
	Step       int             `json:"step"`
	Sequence   string          `json:"sequence"`
	DelayDays  int             `json:"delay_days"`
	Subject    string          `json:"subject"`
	Paragraphs []paragraphJSON `json:"paragraphs"`
}

type paragraphJSON struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// toReviewJSON maps a review to its JSON; a list that is nil stays null, as the stored snapshot has it.
func toReviewJSON(r app.Review) reviewJSON {
	d, snap := r.Draft, r.Snapshot
	v := reviewJSON{Status: d.Status, Name: d.Name, SubmittedAt: d.SubmittedAt,
		Campaign: snapshotCampaignJSON{Name: snap.Campaign.Name, Kind: snap.Campaign.Kind},
		Audience: snapshotAudienceJSON{Description: snap.Audience.Description},
		Leads:    make([]reviewLeadJSON, len(r.Leads)), Feedback: toFeedbackJSON(r.Feedback)}
	if snap.Audience.Segments != nil {
		v.Audience.Segments = make([]snapshotSegmentJSON, len(snap.Audience.Segments))
		for i, s := range snap.Audience.Segments {
			f := s.Filters
			v.Audience.Segments[i] = snapshotSegmentJSON{ID: s.ID, Name: s.Name, Description: s.Description,
				Filters: toSearchFiltersJSON(f)}
		}
	}
	for i, l := range r.Leads {
		v.Leads[i] = reviewLeadJSON{ID: l.Lead.ID, FirstName: l.Lead.FirstName, LastName: l.Lead.LastName, Title: l.Lead.Title,
			CompanyName: l.Lead.CompanyName, Domain: l.Lead.Domain, Industry: l.Lead.Industry, Country: l.Lead.Country,
			CompanySize: l.Lead.CompanySize, AI: l.AI}
	}
	if snap.Emails != nil {
		v.Emails = make([]snapshotEmailJSON, len(snap.Emails))
		for i, e := range snap.Emails {
			v.Emails[i] = snapshotEmailJSON{Step: e.Step, Sequence: e.Sequence, DelayDays: e.DelayDays, Subject: e.Subject}
			if e.Paragraphs != nil {
				v.Emails[i].Paragraphs = make([]paragraphJSON, len(e.Paragraphs))
				for j, p := range e.Paragraphs {
					v.Emails[i].Paragraphs[j] = paragraphJSON{ID: p.ID, Text: p.Text}
				}
			}
		}
	}
	return v
}

// reviewFeedbackJSON is the feedback-only read of a review: what the page reloads after each save.
type reviewFeedbackJSON struct {
	Status      string             `json:"status"`
	SubmittedAt *time.Time         `json:"submitted_at"`
	Feedback    []feedbackItemJSON `json:"feedback"`
}
