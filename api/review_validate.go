package api

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/signoff/signoff/storage"
)

// Limits on what a reviewer writes (R-REVIEW-4).
const (
	maxReviewComment = 2000
	maxReviewQuote   = 1000
	maxReviewAuthor  = 100
)

// Review sections: the three stages of the review page.
var reviewSections = []string{"audience", "leads", "emails"}

// reviewTargets indexes what a frozen snapshot lets a reviewer target: sections, segments, leads,
// emails and paragraphs (with their text, for quote checks).
type reviewTargets struct {
	items      map[string]bool
	paragraphs map[string]string
}

func newReviewTargets(snap storage.Snapshot) reviewTargets {
	t := reviewTargets{items: map[string]bool{}, paragraphs: map[string]string{}}
	for _, s := range reviewSections {
		t.items[s] = true
	}
	for _, s := range snap.Audience.Segments {
		t.items[s.ID] = true
	}
	for _, l := range snap.Leads {
		t.items[l.ID] = true
	}
	for _, e := range snap.Emails {
		t.items[emailTarget(e.Step)] = true
		for _, p := range e.Paragraphs {
			t.items[p.ID] = true
			t.paragraphs[p.ID] = p.Text
		}
	}
	return t
}

func emailTarget(step int) string { return "e" + strconv.Itoa(step) }

// reviewItemRequest is the body of PUT …/items/{target}.
type reviewItemRequest struct {
	Verdict Optional[string] `json:"verdict"`
	Comment string           `json:"comment"`
	Author  string           `json:"author"`
}

// reviewCommentRequest is the body of POST …/comments.
type reviewCommentRequest struct {
	Target  string `json:"target"`
	Quote   string `json:"quote"`
	Comment string `json:"comment"`
	Kind    string `json:"kind"`
	Author  string `json:"author"`
}

func checkReviewText(field, v string, required bool, max int) error {
	if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
		return &fieldError{field, "must be valid text"}
	}
	return checkText(field, v, required, max)
}

// validateItem checks a verdict on target against the frozen snapshot.
func (t reviewTargets) validateItem(target string, r reviewItemRequest) error {
	if !t.items[target] {
		return &fieldError{"target", "is not part of this draft"}
	}
	if r.Verdict.Set && r.Verdict.Value != nil {
		if err := oneOf("verdict", *r.Verdict.Value, storage.FeedbackApproved, storage.FeedbackChangeRequest); err != nil {
			return err
		}
	}
	if err := checkReviewText("comment", r.Comment, false, maxReviewComment); err != nil {
		return err
	}
	return checkReviewText("author", r.Author, false, maxReviewAuthor)
}

// validateComment checks a note or line comment against the frozen snapshot: the target is a
// paragraph, and a quote (required for line comments) is text of that paragraph.
func (t reviewTargets) validateComment(r reviewCommentRequest) error {
	text, ok := t.paragraphs[r.Target]
	if !ok {
		return &fieldError{"target", "is not a paragraph of this draft"}
	}
	if err := oneOf("kind", r.Kind, storage.FeedbackNote, storage.FeedbackLineComment); err != nil {
		return err
	}
	if err := checkReviewText("comment", r.Comment, true, maxReviewComment); err != nil {
		return err
	}
	if err := checkReviewText("quote", r.Quote, r.Kind == storage.FeedbackLineComment, maxReviewQuote); err != nil {
		return err
	}
	if r.Quote != "" && !strings.Contains(text, r.Quote) {
		return &fieldError{"quote", "is not text of that paragraph"}
	}
	return checkReviewText("author", r.Author, false, maxReviewAuthor)
}
