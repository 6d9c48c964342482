package demodata

import (
	"strings"
	"time"

	"github.com/signoff/signoff/storage"
)

// The AI pipeline steps, in pipeline order, and the model every demo campaign uses for them.
const (
	stepQualify     = "qualify"
	stepSegment     = "segment"
	stepPersonalise = "personalise"
	stepRewrite     = "rewrite"

	demoProvider = "local"
	demoModel    = "rules-v1"
)

// aiSteps lists the four AI pipeline steps every demo campaign configures, in pipeline order.
var aiSteps = []string{stepQualify, stepSegment, stepPersonalise, stepRewrite}

const day = 24 * time.Hour

// Campaigns returns two demo campaigns with full content relative to now: a scheduled fintech
// campaign starting in three days and an open-ended onboarding journey. Every call returns fresh values.
func Campaigns(now time.Time) []storage.NewCampaign {
	return []storage.NewCampaign{fintechCampaign(now), onboardingJourney(now)}
}

// aiConfigs configures all four steps with the local rules model; qualify and segment are deterministic.
func aiConfigs(personalise, rewrite float64) []storage.AIModelConfig {
	temps := map[string]float64{stepPersonalise: personalise, stepRewrite: rewrite}
	out := make([]storage.AIModelConfig, len(aiSteps))
	for i, step := range aiSteps {
		out[i] = storage.AIModelConfig{Step: step, Provider: demoProvider, Model: demoModel, Temperature: temps[step]}
	}
	return out
}

// paragraphs joins email paragraphs with blank lines.
func paragraphs(ps ...string) string { return strings.Join(ps, "\n\n") }

// financeLeaders are the finance titles the fintech campaign targets.
func financeLeaders() []string {
	return []string{titleCFO, titleVPFinance, titleHeadFinance, titleFinanceDir}
}

func fintechCampaign(now time.Time) storage.NewCampaign {
	start := now.Add(3 * day).Truncate(time.Hour)
	end := now.Add(30 * day)
	return storage.NewCampaign{
		Name:    "Q1 Pipeline Push — Fintech CFOs",
		Kind:    storage.CampaignKindCampaign,
		Mode:    storage.CampaignModeActive,
		StartAt: &start,
		EndAt:   &end,
		Content: storage.CampaignContent{
			Segments: []storage.Segment{
				{
					Name: "Fintech finance leaders",
					Filters: storage.SearchFilters{
						Titles:     financeLeaders(),
						Industries: []string{industryFintech},
					},
				},
				{
					Name: "Finance leaders at scaling software companies",
					Filters: storage.SearchFilters{
						Titles:         financeLeaders(),
						Industries:     []string{industrySoftware},
						CompanySizeMin: new(50),
						CompanySizeMax: new(2000),
					},
				},
			},
			Prompts: []storage.Prompt{
				{
					Name: "Opening line for finance leaders",
					Text: "Write one opening sentence for a cold email to a finance leader. Use only the facts you are " +
						"given: their first name, job title, company name, industry, country and company size. Tie the " +
						"sentence to a pressure a finance team of that size actually feels, such as a slow month-end " +
						"close, reconciling payouts across several payment providers, or audit preparation. Keep it " +
						"under 30 words, write peer to peer, and do not flatter. Never invent funding rounds, customers, " +
						"headcounts or news about the company; if the facts are thin, fall back to the industry.",
				},
				{
					Name: "Tone and compliance",
					Text: "Rewrite the email so it reads like a short note from one finance professional to another. " +
						"Keep it under 120 words, use plain language with no exclamation marks or buzzwords, and end " +
						"with exactly one low-friction question as the call to action. Do not change figures, product " +
						"claims or links, keep the {{first_name}} and {{company_name}} placeholders intact, and do not " +
						"add a signature or opt-out line: the sending platform appends both.",
				},
			},
			AIModelConfigs: aiConfigs(0.4, 0.3),
			Sequences: []storage.Sequence{
				{
					Name: "Fintech CFO outreach",
					Steps: []storage.SequenceStep{
						{
							Subject: "Month-end close at {{company_name}}",
							Body: paragraphs(
								"Hi {{first_name}},",
								"Finance teams at fast-growing fintechs tell us the month-end close is where the "+
									"hours disappear: payouts from three processors, a ledger that never quite agrees "+
									"with the bank, and a spreadsheet only one person understands.",
								"Ledgerline matches every payout, fee and refund to your general ledger "+
									"automatically, so teams like yours close in three days instead of ten and walk "+
									"into audits with the evidence already attached.",
								"Would it be worth 20 minutes to see how that would look for {{company_name}}? If you are not "+
									"the right person, a one-word reply is plenty and I will not follow up.",
							),
							DelayDays: 0,
						},
						{
							Subject: "Re: Month-end close at {{company_name}}",
							Body: paragraphs(
								"Hi {{first_name}},",
								"A quick follow-up with something useful rather than another ask: we wrote up "+
									"the five reconciliation checks finance teams automate first, with the time each "+
									"one saved at three mid-size payment companies.",
								"It is a ten-minute read and works whether or not you ever talk to us. If any of "+
									"it matches what your team at {{company_name}} is wrestling with, I am happy to compare notes.",
							),
							DelayDays: 3,
						},
						{
							Subject: "Should I close the loop, {{first_name}}?",
							Body: paragraphs(
								"Hi {{first_name}},",
								"I have not heard back, which usually means the timing is off or this landed "+
									"with the wrong person. Either is completely fine.",
								"If closing the books faster becomes a priority at {{company_name}} this year, "+
									"reply with a good month to reconnect and I will put it in my calendar. "+
									"Otherwise this is my last note, and thanks for reading.",
							),
							DelayDays: 7,
						},
					},
				},
			},
			TrackingLinks: []storage.TrackingLink{
				{URL: "https://signoff-demo.example/guides/month-end-close-checklist", Label: "Month-end close checklist"},
				{URL: "https://signoff-demo.example/demo?utm_campaign=q1-fintech-cfos", Label: "Book a 20-minute demo"},
			},
		},
	}
}

func onboardingJourney(now time.Time) storage.NewCampaign {
	end := now.Add(60 * day)
	return storage.NewCampaign{
		Name:  "Onboarding Nurture Journey",
		Kind:  storage.CampaignKindJourney,
		Mode:  storage.CampaignModeActive,
		EndAt: &end,
		Content: storage.CampaignContent{
			Segments: []storage.Segment{
				{
					Name: "Small software and e-commerce teams",
					Filters: storage.SearchFilters{
						Industries:     []string{industrySoftware, industryEcommerce},
						CompanySizeMax: new(200),
					},
				},
				{
					Name: "Founders and operators at early-stage companies",
					Filters: storage.SearchFilters{
						Titles:         []string{titleCEO, titleFounder, titleCoFounder, titleCOO},
						CompanySizeMax: new(50),
					},
				},
			},
			Prompts: []storage.Prompt{
				{
					Name: "Onboarding personalisation",
					Text: "Personalise this onboarding email for someone who has just started a Ledgerline trial. Use " +
						"their job title and company size to pick the single setup step that will matter most to " +
						"them: founders and operators at small companies care about connecting the bank account " +
						"and seeing cash in one place, while finance and operations leads at larger companies care " +
						"about approval rules and the accounting integration. Mention that step in one sentence near " +
						"the top and do not add new features, prices or promises.",
				},
				{
					Name: "Keep it short and helpful",
					Text: "Rewrite the email to be helpful rather than salesy: at most 110 words, short paragraphs, one " +
						"link, and a single clear next step. Keep the greeting with {{first_name}}, keep every link and " +
						"placeholder exactly as written, and use a warm but professional tone without exclamation marks.",
				},
			},
			AIModelConfigs: aiConfigs(0.5, 0.2),
			Sequences: []storage.Sequence{
				{
					Name: "Trial onboarding",
					Steps: []storage.SequenceStep{
						{
							Subject: "Welcome to Ledgerline, {{first_name}}",
							Body: paragraphs(
								"Hi {{first_name}},",
								"Thanks for starting a Ledgerline trial for {{company_name}}. Most teams get their "+
									"first useful view of cash within an hour, and it starts with one step: "+
									"connecting your main bank account.",
								"Our getting-started guide walks through it in five minutes, including which "+
									"read-only permissions we ask for and why.",
								"If anything is unclear, just reply to this email; it comes straight to your "+
									"customer success manager, not a ticket queue.",
							),
							DelayDays: 0,
						},
						{
							Subject: "Three settings that save {{company_name}} time every week",
							Body: paragraphs(
								"Hi {{first_name}},",
								"Now that you have had a few days with Ledgerline, here are the three settings "+
									"customers say they wish they had turned on first: spending approval rules, "+
									"automatic receipt matching, and the weekly cash summary email.",
								"Each takes under two minutes to configure. Teams of your size usually start with "+
									"approval rules, because they remove the most back-and-forth.",
								"Want a hand? Book a 15-minute setup call and we will configure them with you.",
							),
							DelayDays: 3,
						},
						{
							Subject: "How teams like {{company_name}} use Ledgerline after the trial",
							Body: paragraphs(
								"Hi {{first_name}},",
								"Your trial is at the halfway mark, so this is a good moment to check that "+
									"Ledgerline is earning its place in your week.",
								"The teams who get the most from it connect their accounting software before the "+
									"trial ends, so the month-end close runs on reconciled data from day one.",
								"If you would like to talk through what that looks like for {{company_name}}, "+
									"reply with a time that suits you, or pick one on the setup-call page.",
							),
							DelayDays: 7,
						},
					},
				},
			},
			TrackingLinks: []storage.TrackingLink{
				{URL: "https://signoff-demo.example/onboarding/getting-started", Label: "Getting-started guide"},
				{URL: "https://signoff-demo.example/onboarding/setup-call", Label: "Book a setup call"},
			},
		},
	}
}
