package ai

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds on what the pipeline attaches to a lead, in characters: a model's answer is cut to them, so
// no provider (a local rule set or a model that rambles) can store unbounded text.
const (
	// MaxReasonChars bounds a qualification's or segmentation's reason.
	MaxReasonChars = 1000
	// MaxSegmentChars bounds a segment name (a campaign's segment names are at most 200 characters).
	MaxSegmentChars = 200
	// MaxLineChars bounds the opening line and the value proposition.
	MaxLineChars = 1000
	// MaxSubjectChars bounds a rewritten email's subject.
	MaxSubjectChars = 500
	// MaxParagraphs bounds the paragraphs of a rewritten email.
	MaxParagraphs = 200
	// MaxEmailChars bounds the paragraphs of a rewritten email together (a campaign's email body is at
	// most 20 000 characters; the lead's values may lengthen it).
	MaxEmailChars = 40000
)

// bound cuts every text of r to the bounds above and cleans it (cleanText); it keeps at most
// maxEmails emails when maxEmails is positive.
func (r *Result) bound(maxEmails int) {
	r.Qualification.Reason = cleanText(r.Qualification.Reason, false, MaxReasonChars)
	r.Segmentation.Segment = cleanText(r.Segmentation.Segment, false, MaxSegmentChars)
	r.Segmentation.Reason = cleanText(r.Segmentation.Reason, false, MaxReasonChars)
	r.Personalisation.OpeningLine = cleanText(r.Personalisation.OpeningLine, false, MaxLineChars)
	r.Personalisation.ValueProp = cleanText(r.Personalisation.ValueProp, false, MaxLineChars)
	if maxEmails > 0 && len(r.Emails) > maxEmails {
		r.Emails = r.Emails[:maxEmails]
	}
	for i := range r.Emails {
		e := &r.Emails[i]
		e.Subject = cleanText(e.Subject, false, MaxSubjectChars)
		left := MaxEmailChars
		paras := make([]string, 0, min(len(e.Paragraphs), MaxParagraphs))
		for _, p := range e.Paragraphs {
			if len(paras) == MaxParagraphs || left <= 0 {
				break
			}
			p = cleanText(p, true, left)
			if p == "" {
				continue
			}
			left -= utf8.RuneCountInString(p)
			paras = append(paras, p)
		}
		e.Paragraphs = paras
	}
}

// cleanText makes v storable and showable: invalid UTF-8 becomes U+FFFD, NUL and other control
// characters are dropped (one-line text also turns line breaks and tabs into spaces; a paragraph keeps
// them), and text longer than max characters is cut, ending in "…".
func cleanText(v string, multiline bool, max int) string {
	v = strings.ToValidUTF8(v, "\uFFFD")
	v = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			if multiline {
				return r
			}
			return ' '
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, v)
	v = strings.TrimSpace(v)
	if max > 0 && utf8.RuneCountInString(v) > max {
		r := []rune(v)
		v = strings.TrimSpace(string(r[:max-1])) + "…"
	}
	return v
}
