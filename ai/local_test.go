package ai_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/ai"
)

func intp(n int) *int { return &n }

func testCampaign() ai.Campaign {
	return ai.Campaign{
		Name:    "Spring outbound",
		Prompts: map[string]string{"tone": "Friendly and brief.", "audience": "Engineering leaders."},
		Segments: []ai.SegmentDef{
			{Name: "Tech leaders", Titles: []string{"CTO", "VP Engineering"}, Industries: []string{"Software"}},
			{Name: "EU retail", Industries: []string{"Retail"}, Countries: []string{"DE", "FR"}},
			{Name: "Fintech", Industries: []string{"Fintech"}},
		},
		Emails: []ai.EmailStep{
			{Step: 1, Subject: "Quick question for {{company_name}}", Body: "Hi {{first_name}},\n\n" +
				"I saw {{company_name}} is growing fast.\r\n\r\n\n   \n" +
				"As {{ title }} in {{industry}}, you know\nhow hard hiring is.\n\n\n"},
			{Step: 2, Subject: "{{first_name}}, following up", Body: "  Just bumping this, {{first_name}} {{last_name}}.  \n\n" +
				"Best,\nSam\n\nP.S. {{unknown}} stays."},
		},
	}
}

func seniorLead() ai.Lead {
	return ai.Lead{FirstName: "Ada", LastName: "Lovelace", Title: "VP Engineering", CompanyName: "Acme",
		Domain: "acme.com", Industry: "Software", Country: "GB", CompanySize: intp(250)}
}

func TestLocalQualify(t *testing.T) {
	c := testCampaign()
	tests := []struct {
		name      string
		lead      ai.Lead
		qualified bool
		score     float64
		reason    []string
	}{
		{"senior with full company data", seniorLead(), true, 0.95,
			[]string{"qualified (score 0.95)", `senior title "VP Engineering"`, "Acme (acme.com)", "Software matches segment \"Tech leaders\""}},
		{"chief executive", ai.Lead{Title: "Chief Executive Officer", CompanyName: "Acme", Industry: "Fintech", CompanySize: intp(20000)}, true, 0.90,
			[]string{"(chief)", "company Acme (no domain)", "20000 outside"}},
		{"junior with full company data",
			ai.Lead{FirstName: "Bo", Title: "Junior Sales Manager", CompanyName: "Acme", Domain: "acme.com", Industry: "Software", CompanySize: intp(250)},
			false, 0.40, []string{"not qualified (score 0.40)", `junior title "Junior Sales Manager"`}},
		{"individual contributor", ai.Lead{Title: "Software Engineer", CompanyName: "Acme", Domain: "acme.com", Industry: "Software", CompanySize: intp(250)},
			false, 0.40, []string{"shows no seniority"}},
		{"manager", ai.Lead{Title: "Engineering Manager", CompanyName: "Acme", Domain: "acme.com", Industry: "Retail", CompanySize: intp(5000)},
			true, 0.70, []string{"(manager)", "in the 11-5000 target range"}},
		{"director without company", ai.Lead{FirstName: "Cy", Title: "Director of Marketing", Industry: "Agriculture"},
			false, 0.45, []string{"no company data", "company size unknown", "Agriculture not targeted"}},
		{"vice president is not president", ai.Lead{Title: "Vice President, Sales"}, true, 0.55, []string{"(vice president)"}},
		{"empty lead", ai.Lead{}, false, 0, []string{"no title", "no company data", "industry unknown"}},
	}
	p := &ai.Local{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := p.Qualify(context.Background(), ai.DefaultModel, c, tt.lead)
			require.NoError(t, err)
			require.Equal(t, tt.qualified, q.Qualified, q.Reason)
			require.InDelta(t, tt.score, q.Score, 1e-9, q.Reason)
			for _, want := range tt.reason {
				require.Contains(t, q.Reason, want)
			}
		})
	}
}

func TestLocalSegment(t *testing.T) {
	c := testCampaign()
	tests := []struct {
		name    string
		lead    ai.Lead
		segment string
	}{
		{"title and industry match, case-insensitive", ai.Lead{Title: "cto", Industry: "SOFTWARE"}, "Tech leaders"},
		{"first segment fails on industry, second matches", ai.Lead{Title: "VP Engineering", Industry: "retail", Country: "de"}, "EU retail"},
		{"country not listed", ai.Lead{Industry: "Retail", Country: "US"}, ai.GeneralSegment},
		{"exact, not substring", ai.Lead{Title: "CTO Office", Industry: "Software"}, ai.GeneralSegment},
		{"single-list segment", ai.Lead{Title: "Intern", Industry: " Fintech "}, "Fintech"},
		{"empty lead", ai.Lead{}, ai.GeneralSegment},
	}
	p := &ai.Local{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := p.Segment(context.Background(), ai.DefaultModel, c, tt.lead)
			require.NoError(t, err)
			require.Equal(t, tt.segment, s.Segment)
			require.NotEmpty(t, s.Reason)
		})
	}

	t.Run("segment without filters matches everyone", func(t *testing.T) {
		c := ai.Campaign{Segments: []ai.SegmentDef{{Name: "Fintech", Industries: []string{"Fintech"}}, {Name: "Everyone"}}}
		s, err := p.Segment(context.Background(), ai.DefaultModel, c, ai.Lead{Industry: "Retail"})
		require.NoError(t, err)
		require.Equal(t, "Everyone", s.Segment)
	})
}

func TestLocalPersonalise(t *testing.T) {
	tests := []struct {
		name    string
		lead    ai.Lead
		opening string
		value   string
	}{
		{"full", seniorLead(), "Hi Ada, I came across your work as VP Engineering at Acme.",
			"We help Software teams like Acme turn outbound into booked meetings without adding headcount."},
		{"no company", ai.Lead{FirstName: "Cy", Title: "Director of Marketing", Industry: "Retail"},
			"Hi Cy, I came across your work as Director of Marketing.",
			"We help Retail teams like yours turn outbound into booked meetings without adding headcount."},
		{"company only", ai.Lead{FirstName: "Di", CompanyName: "Globex"},
			"Hi Di, I came across Globex and wanted to reach out.",
			"We help teams like Globex turn outbound into booked meetings without adding headcount."},
		{"nothing", ai.Lead{}, "Hi there, I wanted to reach out.",
			"We help teams like yours turn outbound into booked meetings without adding headcount."},
	}
	p := &ai.Local{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.Personalise(context.Background(), ai.DefaultModel, testCampaign(), tt.lead)
			require.NoError(t, err)
			require.Equal(t, ai.Personalisation{OpeningLine: tt.opening, ValueProp: tt.value}, got)
		})
	}
}

func TestLocalRewrite(t *testing.T) {
	p := &ai.Local{}
	ctx := context.Background()
	c := testCampaign()

	tests := []struct {
		name string
		lead ai.Lead
		want []ai.Email
	}{
		{"full lead", seniorLead(), []ai.Email{
			{Step: 1, Subject: "Quick question for Acme", Paragraphs: []string{
				"Hi Ada, I came across your work as VP Engineering at Acme.",
				"Hi Ada,",
				"I saw Acme is growing fast.",
				"As VP Engineering in Software, you know\nhow hard hiring is.",
			}},
			{Step: 2, Subject: "Ada, following up", Paragraphs: []string{
				"Just bumping this, Ada Lovelace.",
				"Best,\nSam",
				"P.S. {{unknown}} stays.",
			}},
		}},
		{"lead without company or title", ai.Lead{FirstName: "Cy"}, []ai.Email{
			{Step: 1, Subject: "Quick question for your team", Paragraphs: []string{
				"Hi Cy, I wanted to reach out.",
				"Hi Cy,",
				"I saw your team is growing fast.",
				"As your role in your industry, you know\nhow hard hiring is.",
			}},
			{Step: 2, Subject: "Cy, following up", Paragraphs: []string{
				"Just bumping this, Cy.",
				"Best,\nSam",
				"P.S. {{unknown}} stays.",
			}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pers, err := p.Personalise(ctx, ai.DefaultModel, c, tt.lead)
			require.NoError(t, err)
			got, err := p.Rewrite(ctx, ai.DefaultModel, c, tt.lead, pers)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	t.Run("opening goes to the lowest step wherever it is", func(t *testing.T) {
		c := ai.Campaign{Emails: []ai.EmailStep{{Step: 2, Subject: "b", Body: "two"}, {Step: 1, Subject: "a", Body: "one"}}}
		got, err := p.Rewrite(ctx, ai.DefaultModel, c, ai.Lead{}, ai.Personalisation{OpeningLine: " Hello. "})
		require.NoError(t, err)
		require.Equal(t, []ai.Email{
			{Step: 2, Subject: "b", Paragraphs: []string{"two"}},
			{Step: 1, Subject: "a", Paragraphs: []string{"Hello.", "one"}},
		}, got)
	})

	t.Run("no emails", func(t *testing.T) {
		got, err := p.Rewrite(ctx, ai.DefaultModel, ai.Campaign{}, ai.Lead{}, ai.Personalisation{OpeningLine: "Hi."})
		require.NoError(t, err)
		require.NotNil(t, got)
		require.Empty(t, got)
	})
}

func TestSplitParagraphs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", []string{}},
		{"  \n\n \t\n", []string{}},
		{"one", []string{"one"}},
		{"one\ntwo", []string{"one\ntwo"}},
		{"one\n\ntwo", []string{"one", "two"}},
		{"\n\n  one  \n \t \n\n\ntwo\r\n\r\nthree\n", []string{"one", "two", "three"}},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, ai.SplitParagraphs(tt.in), "%q", tt.in)
	}
}

func TestSubstitute(t *testing.T) {
	vals := map[string]string{"first_name": "Ada", "company_name": "Acme"}
	tests := []struct{ in, want string }{
		{"Hi {{first_name}}", "Hi Ada"},
		{"{{ First_Name }} at {{company_name}}{{company_name}}", "Ada at AcmeAcme"},
		{"{{nope}} {{first_name}}", "{{nope}} Ada"},
		{"unclosed {{first_name", "unclosed {{first_name"},
		{"no placeholders", "no placeholders"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, ai.Substitute(tt.in, vals), tt.in)
	}
	require.Equal(t, map[string]string{"first_name": "there", "last_name": "", "company_name": "your team",
		"title": "your role", "industry": "your industry"}, ai.Placeholders(ai.Lead{CompanyName: "  "}))
}

func TestLocalDeterministic(t *testing.T) {
	leads := []ai.Lead{seniorLead(), {FirstName: "Cy", Title: "Intern"}, {}, {Title: "cto", Industry: "software", CompanySize: intp(3)}}
	pl := ai.NewPipeline(&ai.Local{}, nil)
	for _, l := range leads {
		first, err := pl.Run(context.Background(), nil, testCampaign(), l)
		require.NoError(t, err)
		for range 5 {
			again, err := pl.Run(context.Background(), nil, testCampaign(), l)
			require.NoError(t, err)
			require.Equal(t, first, again)
		}
		for _, e := range first.Emails {
			require.NotContains(t, e.Subject, "{{first_name")
			for _, para := range e.Paragraphs {
				require.NotContains(t, para, "{{company_name")
				require.Equal(t, strings.TrimSpace(para), para)
				require.NotEmpty(t, para)
			}
		}
	}
}

func TestLocalDelay(t *testing.T) {
	t.Run("waits", func(t *testing.T) {
		p := &ai.Local{Delay: 20 * time.Millisecond}
		start := time.Now()
		_, err := p.Segment(context.Background(), ai.DefaultModel, testCampaign(), seniorLead())
		require.NoError(t, err)
		require.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
	})
	t.Run("honours cancellation", func(t *testing.T) {
		p := &ai.Local{Delay: time.Hour}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := p.Qualify(ctx, ai.DefaultModel, testCampaign(), seniorLead())
		require.True(t, errors.Is(err, context.DeadlineExceeded), err)
		require.Less(t, time.Since(start), time.Second)
	})
	t.Run("cancelled context without delay", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := (&ai.Local{}).Rewrite(ctx, ai.DefaultModel, testCampaign(), seniorLead(), ai.Personalisation{})
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestSubstituteEmptyValue(t *testing.T) {
	vals := map[string]string{"first_name": "Ada", "last_name": ""}
	tests := []struct{ in, want string }{
		{"Hi {{first_name}} {{last_name}}, welcome", "Hi Ada, welcome"},
		{"Hi {{first_name}} {{last_name}}", "Hi Ada"},
		{"Dear {{last_name}} team", "Dear team"},
		{"x{{last_name}}y", "xy"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, ai.Substitute(tt.in, vals), tt.in)
	}
}
