package storage_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/storage"
)

// TestCanonicalJSONIgnoresKeyOrderAndWhitespace checks that content_hash is taken over canonical JSON:
// the same document with its keys in another order, other whitespace, another spelling of a number or
// an escaped character hashes the same, and the canonical form has sorted keys and no whitespace.
func TestCanonicalJSONIgnoresKeyOrderAndWhitespace(t *testing.T) {
	base := `{"name":"Spring ✓","kind":"campaign","mode":"active","start_at":"2030-03-01T09:00:00Z","end_at":null,` +
		`"content":{"segments":[{"name":"CFOs","filters":{"titles":["CFO"],"company_size_min":50}}],"prompts":[],` +
		`"ai_model_configs":[{"step":"rewrite","provider":"local","model":"m","temperature":0.7}],"sequences":[],"tracking_links":[]}}`
	same := []string{
		`{ "content" : { "tracking_links":[], "sequences":[], "prompts":[],
		     "ai_model_configs":[{"temperature":0.70,"model":"m","provider":"local","step":"rewrite"}],
		     "segments":[{"filters":{"company_size_min":5e1,"titles":["CFO"]},"name":"CFOs"}] },
		   "end_at":null, "start_at":"2030-03-01T09:00:00Z", "mode":"active", "kind":"campaign", "name":"Spring \u2713" }`,
		"\n\t" + base + "\n",
	}
	want := storage.HashJSON([]byte(base))
	require.Regexp(t, `^[0-9a-f]{64}$`, want)
	for i, s := range same {
		require.Equal(t, want, storage.HashJSON([]byte(s)), "variant %d", i)
	}
	got, err := storage.CanonicalJSON([]byte(`{ "b": [1, {"d": "<x>", "c": true}], "a": null }`))
	require.NoError(t, err)
	require.Equal(t, `{"a":null,"b":[1,{"c":true,"d":"<x>"}]}`, string(got))
	_, err = storage.CanonicalJSON([]byte(`{"a":1} {"b":2}`))
	require.Error(t, err)
}

// TestContentHashChangesWithEveryFrozenField checks that a change to any frozen field (name, kind,
// mode, start_at, end_at, and every part of the content) gives another content_hash, while the same
// fields give the same hash, whatever the time zone their times are written in.
func TestContentHashChangesWithEveryFrozenField(t *testing.T) {
	start := time.Date(2030, 3, 1, 9, 0, 0, 0, time.UTC)
	end := start.Add(30 * 24 * time.Hour)
	sizeMin := 50
	base := func() storage.FrozenFields {
		return storage.FrozenFields{Name: "Spring", Kind: "campaign", Mode: "active", StartAt: &start, EndAt: &end,
			Content: storage.CampaignContent{
				Segments:       []storage.Segment{{Name: "CFOs", Filters: storage.SearchFilters{Titles: []string{"CFO"}, CompanySizeMin: &sizeMin}}},
				Prompts:        []storage.Prompt{{Name: "tone", Text: "Be brief."}},
				AIModelConfigs: []storage.AIModelConfig{{Step: "rewrite", Provider: "local", Model: "m", Temperature: 0.7}},
				Sequences: []storage.Sequence{{Name: "Intro", Steps: []storage.SequenceStep{
					{Subject: "Hello", Body: "First.\n\nSecond.", DelayDays: 0}, {Subject: "Again", Body: "Third.", DelayDays: 3}}}},
				TrackingLinks: []storage.TrackingLink{{URL: "https://example.com", Label: "site"}},
			}}
	}
	want := base().Hash()

	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	same := base()
	inParis, endParis := start.In(paris), end.In(paris)
	same.StartAt, same.EndAt = &inParis, &endParis
	require.Equal(t, want, same.Hash(), "the same instants in another zone")

	later := start.Add(time.Minute)
	otherMin := 51
	for _, c := range []struct {
		name   string
		change func(f *storage.FrozenFields)
	}{
		{"name", func(f *storage.FrozenFields) { f.Name = "Spring!" }},
		{"kind", func(f *storage.FrozenFields) { f.Kind = "journey" }},
		{"mode", func(f *storage.FrozenFields) { f.Mode = "test" }},
		{"start_at", func(f *storage.FrozenFields) { f.StartAt = &later }},
		{"start_at cleared", func(f *storage.FrozenFields) { f.StartAt = nil }},
		{"end_at cleared", func(f *storage.FrozenFields) { f.EndAt = nil }},
		{"segment name", func(f *storage.FrozenFields) { f.Content.Segments[0].Name = "CEOs" }},
		{"segment filter", func(f *storage.FrozenFields) { f.Content.Segments[0].Filters.CompanySizeMin = &otherMin }},
		{"segment filter list", func(f *storage.FrozenFields) { f.Content.Segments[0].Filters.Countries = []string{"FR"} }},
		{"segment removed", func(f *storage.FrozenFields) { f.Content.Segments = []storage.Segment{} }},
		{"prompt text", func(f *storage.FrozenFields) { f.Content.Prompts[0].Text = "Be brief!" }},
		{"model", func(f *storage.FrozenFields) { f.Content.AIModelConfigs[0].Model = "n" }},
		{"temperature", func(f *storage.FrozenFields) { f.Content.AIModelConfigs[0].Temperature = 0.8 }},
		{"sequence name", func(f *storage.FrozenFields) { f.Content.Sequences[0].Name = "Outro" }},
		{"step subject", func(f *storage.FrozenFields) { f.Content.Sequences[0].Steps[0].Subject = "Hi" }},
		{"step body paragraph", func(f *storage.FrozenFields) { f.Content.Sequences[0].Steps[0].Body = "First.\n\nSecond!" }},
		{"step delay", func(f *storage.FrozenFields) { f.Content.Sequences[0].Steps[1].DelayDays = 4 }},
		{"steps swapped", func(f *storage.FrozenFields) {
			st := f.Content.Sequences[0].Steps
			st[0], st[1] = st[1], st[0]
		}},
		{"tracking link url", func(f *storage.FrozenFields) { f.Content.TrackingLinks[0].URL = "https://example.org" }},
		{"tracking link label", func(f *storage.FrozenFields) { f.Content.TrackingLinks[0].Label = "" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := base()
			c.change(&f)
			require.NotEqual(t, want, f.Hash())
		})
	}
}

// TestFrozenJSONIsWhatTheHashCovers checks that FrozenFields.JSON, which the changes of a request
// compare (R-VER-6), is the canonical document content_hash is taken over.
func TestFrozenJSONIsWhatTheHashCovers(t *testing.T) {
	start := time.Date(2030, 3, 1, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	f := storage.FrozenFields{Name: "Spring <launch> ✓", Kind: "campaign", Mode: "active", StartAt: &start,
		Content: storage.CampaignContent{Sequences: []storage.Sequence{{Name: "Main", Steps: []storage.SequenceStep{{Subject: "Hi", Body: "A.\n\nB."}}}}}}
	raw := f.JSON()
	canon, err := storage.CanonicalJSON(raw)
	require.NoError(t, err)
	require.Equal(t, string(canon), string(raw), "already canonical")
	require.Equal(t, f.Hash(), storage.HashJSON(raw))
	require.Contains(t, string(raw), `"start_at":"2030-03-01T09:00:00Z"`, "times in UTC")
	require.Contains(t, string(raw), `"end_at":null`)
	require.Contains(t, string(raw), `"name":"Spring <launch> ✓"`, "no HTML escaping")
}
