package storage

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Snapshot is the frozen content a client reviews (R-DRAFT-10, R-REVIEW-3): built once when the
// draft becomes ready and never changed.
type Snapshot struct {
	Campaign SnapshotCampaign `json:"campaign"`
	Audience SnapshotAudience `json:"audience"`
	Leads    []SnapshotLead   `json:"leads"`
	Emails   []SnapshotEmail  `json:"emails"`
	FrozenAt time.Time        `json:"frozen_at"`
}

// SnapshotCampaign names the campaign under review.
type SnapshotCampaign struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
}

// SnapshotAudience describes the ideal customer: the sample's source and the campaign's segments.
type SnapshotAudience struct {
	Description string            `json:"description"`
	Segments    []SnapshotSegment `json:"segments"`
}

// SavedSearchAudience describes a sample of count contacts taken from a saved search with filters,
// for the client: by its filters, never by the saved search's name, which is internal to the CSM's
// account (R-REVIEW-7).
func SavedSearchAudience(count int, f SearchFilters) string {
	return fmt.Sprintf("Sample of %d contacts from a saved search: %s.", count, f.Describe())
}

// namedSavedSearch matches the description builds wrote before SavedSearchAudience: it named the
// saved search (a Go-quoted string).
var namedSavedSearch = regexp.MustCompile(`(?s)^Sample of (\d+) from the saved search "(?:[^"\\]|\\.)*": (.*)$`)

// ForClient is the audience as the client sees it: a description frozen while builds still named the
// saved search is shown as SavedSearchAudience would have written it, without the name (R-REVIEW-7).
func (a SnapshotAudience) ForClient() SnapshotAudience {
	if m := namedSavedSearch.FindStringSubmatch(a.Description); m != nil {
		a.Description = "Sample of " + m[1] + " contacts from a saved search: " + m[2]
	}
	return a
}

// SnapshotSegment is one audience segment with a readable description of its filters.
type SnapshotSegment struct {
	ID          string        `json:"id"`
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Filters     SearchFilters `json:"filters"`
}

// SnapshotLead is one sample lead as the client sees it.
type SnapshotLead struct {
	ID          string `json:"id"`
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
	Title       string `json:"title"`
	CompanyName string `json:"company_name"`
	Domain      string `json:"domain"`
	Industry    string `json:"industry"`
	Country     string `json:"country"`
	CompanySize *int   `json:"company_size"`
}

// SnapshotEmail is one email step split into paragraphs with stable ids.
type SnapshotEmail struct {
	Step       int         `json:"step"`
	Sequence   string      `json:"sequence"`
	DelayDays  int         `json:"delay_days"`
	Subject    string      `json:"subject"`
	Paragraphs []Paragraph `json:"paragraphs"`
}

// Paragraph is a reviewable paragraph; its id (e<step>-p<n>) is what comments target.
type Paragraph struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// SplitParagraphs splits an email body on blank lines, trimming each paragraph and dropping empty ones.
func SplitParagraphs(body string) []string {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	var out []string
	for _, p := range strings.Split(body, "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// BuildEmails numbers every step of every sequence (1, 2, …) and splits the bodies into paragraphs.
func BuildEmails(seqs []Sequence) []SnapshotEmail {
	out := []SnapshotEmail{}
	step := 0
	for _, seq := range seqs {
		for _, st := range seq.Steps {
			step++
			e := SnapshotEmail{Step: step, Sequence: seq.Name, DelayDays: st.DelayDays, Subject: st.Subject, Paragraphs: []Paragraph{}}
			for i, p := range SplitParagraphs(st.Body) {
				e.Paragraphs = append(e.Paragraphs, Paragraph{ID: fmt.Sprintf("e%d-p%d", step, i+1), Text: p})
			}
			out = append(out, e)
		}
	}
	return out
}

// Describe renders filters as a sentence a client can read.
func (f SearchFilters) Describe() string {
	var parts []string
	if len(f.Titles) > 0 {
		parts = append(parts, "titles "+strings.Join(f.Titles, ", "))
	}
	if len(f.Industries) > 0 {
		parts = append(parts, "in "+strings.Join(f.Industries, ", "))
	}
	if len(f.Countries) > 0 {
		parts = append(parts, "based in "+strings.Join(f.Countries, ", "))
	}
	switch {
	case f.CompanySizeMin != nil && f.CompanySizeMax != nil:
		parts = append(parts, fmt.Sprintf("companies of %d–%d employees", *f.CompanySizeMin, *f.CompanySizeMax))
	case f.CompanySizeMin != nil:
		parts = append(parts, fmt.Sprintf("companies of %d+ employees", *f.CompanySizeMin))
	case f.CompanySizeMax != nil:
		parts = append(parts, fmt.Sprintf("companies of up to %d employees", *f.CompanySizeMax))
	}
	if len(f.Keywords) > 0 {
		parts = append(parts, "mentioning "+strings.Join(f.Keywords, ", "))
	}
	if len(parts) == 0 {
		return "Everyone in the directory"
	}
	s := strings.Join(parts, "; ")
	return strings.ToUpper(s[:1]) + s[1:]
}
