package api

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// Tests of the pure validators of the client review (R-REVIEW-4) against a fixed frozen snapshot: a
// table of known cases and a fuzz target whose oracle is written from the spec independently of the
// code. That a refused write stores nothing is covered by the API tests (review_test.go).

const reviewFuzzLead = "3f0a9c1e-8b7d-4c2a-9e5f-1a2b3c4d5e6f"

// reviewFuzzSnapshot is a small frozen snapshot: two segments, two leads and two emails whose bodies
// have several paragraphs, one with a line break and non-ASCII text.
func reviewFuzzSnapshot() storage.Snapshot {
	return storage.Snapshot{
		Campaign: storage.SnapshotCampaign{Name: "Fuzz campaign", Kind: storage.CampaignKindCampaign},
		Audience: storage.SnapshotAudience{Description: "Everyone", Segments: []storage.SnapshotSegment{
			{ID: "segment-1", Name: "CTOs"}, {ID: "segment-2", Name: "CFOs"}}},
		Leads: []storage.SnapshotLead{{ID: reviewFuzzLead, FirstName: "Ana", LastName: "Ruiz"},
			{ID: "7c9e6679-7425-40de-944b-e07fc1f90ae7", FirstName: "Bo", LastName: "Li"}},
		Emails: storage.BuildEmails([]storage.Sequence{{Name: "Outreach", Steps: []storage.SequenceStep{
			{Subject: "Hi {{first_name}}", Body: "Hi {{first_name}},\n\nTeams like {{company_name}} lose a day every month.\n\n" +
				"Worth a short call next week? Zürich, São Paulo — 東京.\n\n\n\n   "},
			{Subject: "Following up", DelayDays: 3, Body: "Hi again,\r\n\r\nJust checking whether this landed.\r\n\r\nBest,\nSam"},
		}}}),
	}
}

// reviewParagraphText returns the paragraph of the fixed snapshot with id, and whether there is one.
func reviewParagraphText(snap storage.Snapshot, id string) (string, bool) {
	for _, e := range snap.Emails {
		for _, p := range e.Paragraphs {
			if p.ID == id {
				return p.Text, true
			}
		}
	}
	return "", false
}

// reviewItemTarget reports whether the spec lets a verdict target id: a section, a segment, a lead,
// an email or a paragraph of the snapshot.
func reviewItemTarget(snap storage.Snapshot, id string) bool {
	switch id {
	case "audience", "leads", "emails":
		return true
	}
	for _, s := range snap.Audience.Segments {
		if s.ID == id {
			return true
		}
	}
	for _, l := range snap.Leads {
		if l.ID == id {
			return true
		}
	}
	for _, e := range snap.Emails {
		if app.EmailTarget(e.Step) == id {
			return true
		}
	}
	_, ok := reviewParagraphText(snap, id)
	return ok
}

// reviewText reports whether v is acceptable reviewer text: valid UTF-8 without NUL, at most max
// characters, and not blank when required.
func reviewText(v string, required bool, max int) bool {
	return utf8.ValidString(v) && !strings.ContainsRune(v, 0) && utf8.RuneCountInString(v) <= max &&
		(!required || strings.TrimSpace(v) != "")
}

// reviewExpectComment is the oracle of validateComment.
func reviewExpectComment(snap storage.Snapshot, r reviewCommentRequest) bool {
	text, ok := reviewParagraphText(snap, r.Target)
	return ok && (r.Kind == storage.FeedbackNote || r.Kind == storage.FeedbackLineComment) &&
		reviewText(r.Comment, true, 2000) &&
		reviewText(r.Quote, r.Kind == storage.FeedbackLineComment, 1000) &&
		(r.Quote == "" || strings.Contains(text, r.Quote)) &&
		reviewText(r.Author, false, 100)
}

// reviewExpectItem is the oracle of validateItem.
func reviewExpectItem(snap storage.Snapshot, target string, r reviewItemRequest) bool {
	verdictOK := !r.Verdict.Set || r.Verdict.Value == nil ||
		*r.Verdict.Value == storage.FeedbackApproved || *r.Verdict.Value == storage.FeedbackChangeRequest
	return reviewItemTarget(snap, target) && verdictOK && reviewText(r.Comment, false, 2000) && reviewText(r.Author, false, 100)
}

// reviewVerdict maps a fuzzed string to the verdict field: "" absent, "null" null, else the value.
func reviewVerdict(v string) Optional[string] {
	switch v {
	case "":
		return Optional[string]{}
	case "null":
		return Optional[string]{Set: true}
	}
	return Optional[string]{Set: true, Value: &v}
}

// reviewCheckErr requires err to be a field error naming one of fields.
func reviewCheckErr(t *testing.T, err error, fields ...string) {
	t.Helper()
	fe, ok := errs.As(err)
	if !ok || fe.Code != errs.Validation {
		t.Fatalf("a refusal must be a field error (a 422), got %T %v", err, err)
	}
	for _, f := range fields {
		if fe.Field == f {
			if fe.Message == "" {
				t.Fatalf("field error on %s without a message", f)
			}
			return
		}
	}
	t.Fatalf("field error names %q, want one of %v", fe.Field, fields)
}

func TestReviewValidators(t *testing.T) {
	snap := reviewFuzzSnapshot()
	tg := app.NewFrozenReview(snap)
	p2, _ := reviewParagraphText(snap, "e1-p2")
	if p2 != "Teams like {{company_name}} lose a day every month." {
		t.Fatalf("paragraph e1-p2 is %q", p2)
	}
	if got, _ := reviewParagraphText(snap, "e2-p3"); got != "Best,\nSam" {
		t.Fatalf("paragraph e2-p3 is %q: CRLF bodies are split and trimmed", got)
	}
	if _, ok := reviewParagraphText(snap, "e1-p4"); ok {
		t.Fatal("blank trailing paragraphs are dropped")
	}
	long := func(n int) string { return strings.Repeat("ü", n) }
	comments := []struct {
		name  string
		req   reviewCommentRequest
		field string // "" accepted
	}{
		{"note", reviewCommentRequest{Target: "e1-p2", Kind: "note", Comment: "Shorter."}, ""},
		{"note with quote", reviewCommentRequest{Target: "e1-p2", Kind: "note", Quote: "lose a day", Comment: "Really?"}, ""},
		{"line comment", reviewCommentRequest{Target: "e1-p2", Kind: "line_comment", Quote: "lose a day", Comment: "Source?", Author: "Ana"}, ""},
		{"whole paragraph quoted", reviewCommentRequest{Target: "e1-p2", Kind: "line_comment", Quote: p2, Comment: "x"}, ""},
		{"non-ASCII quote", reviewCommentRequest{Target: "e1-p3", Kind: "line_comment", Quote: "São Paulo — 東京", Comment: "x"}, ""},
		{"quote across a line break", reviewCommentRequest{Target: "e2-p3", Kind: "line_comment", Quote: "Best,\nSam", Comment: "x"}, ""},
		{"limits inclusive", reviewCommentRequest{Target: "e1-p1", Kind: "note", Comment: long(2000), Author: long(100)}, ""},
		{"unknown target", reviewCommentRequest{Target: "e9-p1", Kind: "note", Comment: "x"}, "target"},
		{"empty target", reviewCommentRequest{Kind: "note", Comment: "x"}, "target"},
		{"section target", reviewCommentRequest{Target: "emails", Kind: "note", Comment: "x"}, "target"},
		{"segment target", reviewCommentRequest{Target: "segment-1", Kind: "note", Comment: "x"}, "target"},
		{"lead target", reviewCommentRequest{Target: reviewFuzzLead, Kind: "note", Comment: "x"}, "target"},
		{"email target", reviewCommentRequest{Target: "e1", Kind: "note", Comment: "x"}, "target"},
		{"paragraph id with space", reviewCommentRequest{Target: "e1-p2 ", Kind: "note", Comment: "x"}, "target"},
		{"bad kind", reviewCommentRequest{Target: "e1-p2", Kind: "approved", Comment: "x"}, "kind"},
		{"no kind", reviewCommentRequest{Target: "e1-p2", Comment: "x"}, "kind"},
		{"empty comment", reviewCommentRequest{Target: "e1-p2", Kind: "note"}, "comment"},
		{"blank comment", reviewCommentRequest{Target: "e1-p2", Kind: "note", Comment: " \t\n "}, "comment"},
		{"comment too long", reviewCommentRequest{Target: "e1-p2", Kind: "note", Comment: long(2001)}, "comment"},
		{"comment with NUL", reviewCommentRequest{Target: "e1-p2", Kind: "note", Comment: "a\x00b"}, "comment"},
		{"comment invalid UTF-8", reviewCommentRequest{Target: "e1-p2", Kind: "note", Comment: "a\xffb"}, "comment"},
		{"line comment without quote", reviewCommentRequest{Target: "e1-p2", Kind: "line_comment", Comment: "x"}, "quote"},
		{"line comment blank quote", reviewCommentRequest{Target: "e1-p2", Kind: "line_comment", Quote: " ", Comment: "x"}, "quote"},
		{"quote not in paragraph", reviewCommentRequest{Target: "e1-p2", Kind: "line_comment", Quote: "gain a day", Comment: "x"}, "quote"},
		{"quote of another paragraph", reviewCommentRequest{Target: "e1-p2", Kind: "line_comment", Quote: "Worth a short call", Comment: "x"}, "quote"},
		{"quote spanning paragraphs", reviewCommentRequest{Target: "e1-p2", Kind: "line_comment", Quote: "month.\n\nWorth", Comment: "x"}, "quote"},
		{"quote too long", reviewCommentRequest{Target: "e1-p2", Kind: "line_comment", Quote: long(1001), Comment: "x"}, "quote"},
		{"author too long", reviewCommentRequest{Target: "e1-p2", Kind: "note", Comment: "x", Author: long(101)}, "author"},
		{"author with NUL", reviewCommentRequest{Target: "e1-p2", Kind: "note", Comment: "x", Author: "\x00"}, "author"},
	}
	for _, tc := range comments {
		err := tg.CheckComment(toReviewCommentInput(tc.req))
		if want := reviewExpectComment(snap, tc.req); want != (tc.field == "") {
			t.Fatalf("%s: the oracle disagrees with the table", tc.name)
		}
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: refused: %v", tc.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted, want a 422 on %s", tc.name, tc.field)
			continue
		}
		reviewCheckErr(t, err, tc.field)
	}

	approved, change, bad, empty := "approved", "change_request", "Approved", ""
	items := []struct {
		name   string
		target string
		req    reviewItemRequest
		field  string
	}{
		{"approve a section", "audience", reviewItemRequest{Verdict: Optional[string]{Set: true, Value: &approved}}, ""},
		{"change a segment", "segment-2", reviewItemRequest{Verdict: Optional[string]{Set: true, Value: &change}, Comment: "Too broad."}, ""},
		{"approve a lead", reviewFuzzLead, reviewItemRequest{Verdict: Optional[string]{Set: true, Value: &approved}}, ""},
		{"approve an email", "e2", reviewItemRequest{Verdict: Optional[string]{Set: true, Value: &approved}}, ""},
		{"approve a paragraph", "e2-p3", reviewItemRequest{Verdict: Optional[string]{Set: true, Value: &approved}}, ""},
		{"clear with null", "leads", reviewItemRequest{Verdict: Optional[string]{Set: true}}, ""},
		{"comment only", "emails", reviewItemRequest{Comment: "Hm.", Author: long(100)}, ""},
		{"limits inclusive", "emails", reviewItemRequest{Comment: long(2000)}, ""},
		{"unknown target", "nope", reviewItemRequest{Verdict: Optional[string]{Set: true, Value: &approved}}, "target"},
		{"empty target", "", reviewItemRequest{}, "target"},
		{"unknown email", "e3", reviewItemRequest{}, "target"},
		{"unknown segment", "segment-3", reviewItemRequest{}, "target"},
		{"unknown paragraph", "e1-p4", reviewItemRequest{}, "target"},
		{"upper-case lead id", strings.ToUpper(reviewFuzzLead), reviewItemRequest{}, "target"},
		{"bad verdict", "audience", reviewItemRequest{Verdict: Optional[string]{Set: true, Value: &bad}}, "verdict"},
		{"empty verdict", "audience", reviewItemRequest{Verdict: Optional[string]{Set: true, Value: &empty}}, "verdict"},
		{"comment too long", "audience", reviewItemRequest{Comment: long(2001)}, "comment"},
		{"comment with NUL", "audience", reviewItemRequest{Comment: "\x00"}, "comment"},
		{"author too long", "audience", reviewItemRequest{Author: long(101)}, "author"},
		{"author invalid UTF-8", "audience", reviewItemRequest{Author: "\xc3"}, "author"},
	}
	for _, tc := range items {
		reviewCheckCase(t, tc.name, tg.CheckItem(toReviewItemInput(tc.target, tc.req)), reviewExpectItem(snap, tc.target, tc.req), tc.field)
	}
}

// reviewCheckCase checks a validator's answer err on a case of the table, where field "" is accepted:
// the oracle's verdict want agrees with the table, what the table accepts is accepted, and the rest
// is a field error naming field.
func reviewCheckCase(t *testing.T, name string, err error, want bool, field string) {
	t.Helper()
	if want != (field == "") {
		t.Fatalf("%s: the oracle disagrees with the table", name)
	}
	switch {
	case field == "" && err != nil:
		t.Errorf("%s: refused: %v", name, err)
	case field != "" && err == nil:
		t.Errorf("%s: accepted, want a 422 on %s", name, field)
	case field != "":
		reviewCheckErr(t, err, field)
	}
}

// FuzzReviewValidation checks validateComment and validateItem against the spec's oracle: whatever
// they accept is a write R-REVIEW-4 allows (and the other way round), and whatever they refuse is a
// field error. `go test -fuzz FuzzReviewValidation ./api` explores; `make test` runs the seeds.
func FuzzReviewValidation(f *testing.F) {
	long := strings.Repeat("ü", 2001)
	for _, s := range [][6]string{
		// target, quote, comment, kind, author, verdict
		{"e1-p2", "", "Shorter please.", "note", "", ""},
		{"e1-p2", "lose a day", "Source?", "line_comment", "Ana", "approved"},
		{"e1-p2", "Teams like {{company_name}} lose a day every month.", "x", "line_comment", "", "change_request"},
		{"e1-p3", "São Paulo — 東京", "Nice", "line_comment", "Zoë", "null"},
		{"e2-p3", "Best,\nSam", "Sign-off?", "line_comment", "", ""},
		{"e2-p3", "Best, Sam", "Sign-off?", "line_comment", "", ""},
		{"e1-p2", "", "", "note", "", ""},
		{"e1-p2", "", "   ", "note", "", ""},
		{"e1-p2", "", long, "note", "", ""},
		{"e1-p2", "", "x", "note", long[:202], ""},
		{"e1-p2", long, "x", "line_comment", "", ""},
		{"e1-p2", "", "x", "line_comment", "", ""},
		{"e1-p2", "Worth a short call", "x", "line_comment", "", ""},
		{"e1-p2", "lose a day", "x", "comment", "", "maybe"},
		{"e1-p2", "lose a day", "x", "", "", "APPROVED"},
		{"audience", "", "x", "note", "", "approved"},
		{"segment-1", "", "x", "note", "", "change_request"},
		{reviewFuzzLead, "", "x", "note", "", "approved"},
		{"e1", "", "x", "note", "", "approved"},
		{"e9-p1", "", "x", "note", "", "approved"},
		{"", "", "", "", "", ""},
		{"e1-p2", "a\x00", "b\x00", "note", "\x00", "\x00"},
		{"e1-p2", "\xff", "\xfe", "line_comment", "\xc3", "approved"},
		{"e1-p2\x00", "", "x", "note", "", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5])
	}
	snap := reviewFuzzSnapshot()
	tg := app.NewFrozenReview(snap)
	f.Fuzz(func(t *testing.T, target, quote, comment, kind, author, verdict string) {
		c := reviewCommentRequest{Target: target, Quote: quote, Comment: comment, Kind: kind, Author: author}
		err := tg.CheckComment(toReviewCommentInput(c))
		if want := reviewExpectComment(snap, c); (err == nil) != want {
			t.Fatalf("validateComment(%#v) = %v, the spec says accepted=%v", c, err, want)
		}
		if err == nil {
			text, ok := reviewParagraphText(snap, target)
			switch {
			case !ok:
				t.Fatalf("accepted a comment on %q, which is not a paragraph", target)
			case kind != storage.FeedbackNote && kind != storage.FeedbackLineComment:
				t.Fatalf("accepted kind %q", kind)
			case strings.TrimSpace(comment) == "" || utf8.RuneCountInString(comment) > app.MaxReviewComment:
				t.Fatalf("accepted comment of %d characters %q", utf8.RuneCountInString(comment), comment)
			case quote != "" && !strings.Contains(text, quote):
				t.Fatalf("accepted quote %q that is not in %q", quote, text)
			case kind == storage.FeedbackLineComment && quote == "":
				t.Fatal("accepted a line comment without a quote")
			case utf8.RuneCountInString(author) > app.MaxReviewAuthor:
				t.Fatalf("accepted author of %d characters", utf8.RuneCountInString(author))
			}
		} else {
			reviewCheckErr(t, err, "target", "kind", "comment", "quote", "author")
		}

		it := reviewItemRequest{Verdict: reviewVerdict(verdict), Comment: comment, Author: author}
		err = tg.CheckItem(toReviewItemInput(target, it))
		if want := reviewExpectItem(snap, target, it); (err == nil) != want {
			t.Fatalf("validateItem(%q, %#v) = %v, the spec says accepted=%v", target, it, err, want)
		}
		if err == nil {
			switch {
			case !reviewItemTarget(snap, target):
				t.Fatalf("accepted a verdict on %q, which is not part of the draft", target)
			case it.Verdict.Value != nil && *it.Verdict.Value != storage.FeedbackApproved && *it.Verdict.Value != storage.FeedbackChangeRequest:
				t.Fatalf("accepted verdict %q", *it.Verdict.Value)
			case utf8.RuneCountInString(comment) > app.MaxReviewComment || utf8.RuneCountInString(author) > app.MaxReviewAuthor:
				t.Fatal("accepted over-long text")
			}
		} else {
			reviewCheckErr(t, err, "target", "verdict", "comment", "author")
		}
	})
}
