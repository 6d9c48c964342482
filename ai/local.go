package ai

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Provider names a campaign's AI model configs may choose.
const (
	ProviderLocal  = "local"
	ProviderOpenAI = "openai"
)

// DefaultLocalModel is the model name of the local provider's rule set.
const DefaultLocalModel = "rules-v1"

// QualifyThreshold is the lowest score the local provider qualifies.
const QualifyThreshold = 0.5

// GeneralSegment is the segment of a lead that matches none of the campaign's segments.
const GeneralSegment = "General"

// Local is the deterministic rule-and-template provider: the same inputs always give the same outputs and it
// needs no network. Delay, when positive, is an artificial latency added to every step (to simulate a slow model).
type Local struct {
	Delay time.Duration
}

var _ Provider = (*Local)(nil)

// wait applies the artificial latency, returning early with the context's error when it is done.
func (p *Local) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p == nil || p.Delay <= 0 {
		return nil
	}
	t := time.NewTimer(p.Delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Scoring weights of the local qualify rules, in points out of 100.
const (
	pointsExecutive   = 60 // chief, C-level, founder, owner, president
	pointsVP          = 55 // vp, svp, vice president
	pointsDirector    = 45 // head, director
	pointsManager     = 30 // manager, lead
	pointsCompanyName = 10
	pointsDomain      = 5
	pointsSizeTarget  = 10 // 11–5000 employees
	pointsSizeOther   = 5  // 1–10 or more than 5000 employees
	pointsIndustry    = 15 // the lead's industry is one a campaign segment targets
)

var (
	executiveWords = map[string]bool{
		"chief": true, "ceo": true, "cto": true, "cfo": true, "coo": true, "cmo": true, "cro": true, "cio": true,
		"ciso": true, "cpo": true, "founder": true, "cofounder": true, "owner": true, "president": true,
	}
	vpWords       = map[string]bool{"vp": true, "svp": true, "evp": true, "avp": true, "vice": true}
	directorWords = map[string]bool{"head": true, "director": true}
	managerWords  = map[string]bool{"manager": true, "lead": true}
	juniorWords   = map[string]bool{"junior": true, "intern": true, "trainee": true, "assistant": true, "student": true}
)

// words splits s into lower-case words of letters and digits.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// seniority scores a job title and names the keyword that decided it ("" when none did).
func seniority(title string) (points int, keyword string, junior bool) {
	ws := words(title)
	vice := false
	for _, w := range ws {
		if juniorWords[w] {
			return 0, w, true
		}
		if w == "vice" {
			vice = true
		}
	}
	for _, w := range ws {
		p := 0
		switch {
		case w == "president" && vice:
			p = pointsVP // "vice president"
		case executiveWords[w]:
			p = pointsExecutive
		case vpWords[w]:
			p = pointsVP
		case directorWords[w]:
			p = pointsDirector
		case managerWords[w]:
			p = pointsManager
		}
		if p > points {
			points, keyword = p, w
		}
	}
	if keyword == "vice" {
		keyword = "vice president"
	}
	return points, keyword, false
}

// norm is the case-insensitive comparison form of a value.
func norm(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// containsFold reports whether list holds v, compared case-insensitively after trimming.
func containsFold(list []string, v string) bool {
	v = norm(v)
	if v == "" {
		return false
	}
	for _, x := range list {
		if norm(x) == v {
			return true
		}
	}
	return false
}

// Qualify scores the lead from its title's seniority, its company data, company size and whether its industry
// is one the campaign's segments target; a score of QualifyThreshold or more qualifies.
func (p *Local) Qualify(ctx context.Context, _ Model, c Campaign, l Lead) (Qualification, error) {
	if err := p.wait(ctx); err != nil {
		return Qualification{}, err
	}
	points := 0
	var why []string

	title := strings.TrimSpace(l.Title)
	switch sp, kw, junior := seniority(title); {
	case title == "":
		why = append(why, "no title")
	case junior:
		why = append(why, fmt.Sprintf("junior title %q (%s)", title, kw))
	case sp == 0:
		why = append(why, fmt.Sprintf("title %q shows no seniority", title))
	default:
		points += sp
		why = append(why, fmt.Sprintf("senior title %q (%s)", title, kw))
	}

	company, domain := strings.TrimSpace(l.CompanyName), strings.TrimSpace(l.Domain)
	switch {
	case company != "" && domain != "":
		points += pointsCompanyName + pointsDomain
		why = append(why, fmt.Sprintf("company %s (%s)", company, domain))
	case company != "":
		points += pointsCompanyName
		why = append(why, fmt.Sprintf("company %s (no domain)", company))
	case domain != "":
		points += pointsDomain
		why = append(why, fmt.Sprintf("company domain %s (no company name)", domain))
	default:
		why = append(why, "no company data")
	}

	switch size := l.CompanySize; {
	case size == nil || *size <= 0:
		why = append(why, "company size unknown")
	case *size >= 11 && *size <= 5000:
		points += pointsSizeTarget
		why = append(why, fmt.Sprintf("company size %d in the 11-5000 target range", *size))
	default:
		points += pointsSizeOther
		why = append(why, fmt.Sprintf("company size %d outside the 11-5000 target range", *size))
	}

	industry := strings.TrimSpace(l.Industry)
	matched := ""
	for _, s := range c.Segments {
		if containsFold(s.Industries, industry) {
			matched = s.Name
			break
		}
	}
	switch {
	case industry == "":
		why = append(why, "industry unknown")
	case matched != "":
		points += pointsIndustry
		why = append(why, fmt.Sprintf("industry %s matches segment %q", industry, matched))
	default:
		why = append(why, fmt.Sprintf("industry %s not targeted by any segment", industry))
	}

	points = min(max(points, 0), 100)
	score := float64(points) / 100
	verdict := "not qualified"
	if score >= QualifyThreshold {
		verdict = "qualified"
	}
	return Qualification{
		Qualified: score >= QualifyThreshold,
		Score:     score,
		Reason:    fmt.Sprintf("%s (score %.2f): %s", verdict, score, strings.Join(why, "; ")),
	}, nil
}

// Segment picks the first campaign segment whose non-empty title, industry and country lists all hold the
// lead's value (compared case-insensitively), or GeneralSegment when none does.
func (p *Local) Segment(ctx context.Context, _ Model, c Campaign, l Lead) (Segmentation, error) {
	if err := p.wait(ctx); err != nil {
		return Segmentation{}, err
	}
	for _, s := range c.Segments {
		var on []string
		ok := true
		for _, f := range []struct {
			name  string
			list  []string
			value string
		}{
			{"title", s.Titles, l.Title},
			{"industry", s.Industries, l.Industry},
			{"country", s.Countries, l.Country},
		} {
			if len(f.list) == 0 {
				continue
			}
			if !containsFold(f.list, f.value) {
				ok = false
				break
			}
			on = append(on, f.name)
		}
		if !ok {
			continue
		}
		reason := fmt.Sprintf("matches segment %q", s.Name)
		if len(on) > 0 {
			reason += " on " + strings.Join(on, ", ")
		} else {
			reason += ", which has no filters"
		}
		return Segmentation{Segment: s.Name, Reason: reason}, nil
	}
	return Segmentation{Segment: GeneralSegment, Reason: "matches none of the campaign's segments"}, nil
}

// Personalise writes an opening line and a value proposition from templates filled with the lead's first
// name, title, company and industry, leaving out whatever the lead lacks.
func (p *Local) Personalise(ctx context.Context, _ Model, _ Campaign, l Lead) (Personalisation, error) {
	if err := p.wait(ctx); err != nil {
		return Personalisation{}, err
	}
	first := strings.TrimSpace(l.FirstName)
	if first == "" {
		first = "there"
	}
	title, company, industry := strings.TrimSpace(l.Title), strings.TrimSpace(l.CompanyName), strings.TrimSpace(l.Industry)

	var opening string
	switch {
	case title != "" && company != "":
		opening = fmt.Sprintf("Hi %s, I came across your work as %s at %s.", first, title, company)
	case company != "":
		opening = fmt.Sprintf("Hi %s, I came across %s and wanted to reach out.", first, company)
	case title != "":
		opening = fmt.Sprintf("Hi %s, I came across your work as %s.", first, title)
	default:
		opening = fmt.Sprintf("Hi %s, I wanted to reach out.", first)
	}

	teams := "teams"
	if industry != "" {
		teams = industry + " teams"
	}
	like := "yours"
	if company != "" {
		like = company
	}
	value := fmt.Sprintf("We help %s like %s turn outbound into booked meetings without adding headcount.", teams, like)
	return Personalisation{OpeningLine: opening, ValueProp: value}, nil
}

// Rewrite fills every email of the campaign for the lead: placeholders are substituted in subject and body,
// the body is split into paragraphs on blank lines, and the opening line leads the first step's email.
func (p *Local) Rewrite(ctx context.Context, _ Model, c Campaign, l Lead, pers Personalisation) ([]Email, error) {
	if err := p.wait(ctx); err != nil {
		return nil, err
	}
	vals := Placeholders(l)
	first := firstStepIndex(c.Emails)
	out := make([]Email, 0, len(c.Emails))
	for i, e := range c.Emails {
		paras := SplitParagraphs(Substitute(e.Body, vals))
		if i == first {
			if o := strings.TrimSpace(pers.OpeningLine); o != "" {
				paras = append([]string{o}, paras...)
			}
		}
		out = append(out, Email{
			Step:       e.Step,
			Subject:    strings.TrimSpace(Substitute(e.Subject, vals)),
			Paragraphs: paras,
		})
	}
	return out, nil
}

// firstStepIndex is the index of the sequence's first email (lowest step number, earliest on ties), or -1.
func firstStepIndex(emails []EmailStep) int {
	first := -1
	for i, e := range emails {
		if first < 0 || e.Step < emails[first].Step {
			first = i
		}
	}
	return first
}

// Placeholders maps the placeholder names email copy may use to the lead's values, with fallbacks for
// missing ones ("there", "your team", "your role", "your industry"; an empty last name).
func Placeholders(l Lead) map[string]string {
	or := func(v, fallback string) string {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
		return fallback
	}
	return map[string]string{
		"first_name":   or(l.FirstName, "there"),
		"last_name":    or(l.LastName, ""),
		"company_name": or(l.CompanyName, "your team"),
		"title":        or(l.Title, "your role"),
		"industry":     or(l.Industry, "your industry"),
	}
}

// Substitute replaces every {{name}} in s (spaces inside the braces allowed, name case-insensitive) with
// vals[name]; placeholders vals does not know are left as written, and an empty value drops the space before it
// when punctuation, a space or the end follows.
func Substitute(s string, vals map[string]string) string {
	out := make([]byte, 0, len(s))
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			break
		}
		j := strings.Index(s[i+2:], "}}")
		if j < 0 {
			break
		}
		end := i + 2 + j + 2
		name := strings.ToLower(strings.TrimSpace(s[i+2 : end-2]))
		rest := s[end:]
		out = append(out, s[:i]...)
		if v, ok := vals[name]; ok {
			// An empty value takes the space before it along, so "Hi {{a}}, you" does not read "Hi , you".
			if v == "" && len(out) > 0 && out[len(out)-1] == ' ' &&
				(rest == "" || strings.IndexByte(" \t\r\n.,;:!?)", rest[0]) >= 0) {
				out = out[:len(out)-1]
			}
			out = append(out, v...)
		} else {
			out = append(out, s[i:end]...)
		}
		s = rest
	}
	return string(append(out, s...))
}

// SplitParagraphs splits text into paragraphs on blank (or whitespace-only) lines, trimming each paragraph
// and dropping empty ones; lines inside a paragraph keep their line breaks.
func SplitParagraphs(text string) []string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	out := []string{}
	var cur []string
	flush := func() {
		if p := strings.TrimSpace(strings.Join(cur, "\n")); p != "" {
			out = append(out, p)
		}
		cur = cur[:0]
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		cur = append(cur, strings.TrimRightFunc(line, unicode.IsSpace))
	}
	flush()
	return out
}
