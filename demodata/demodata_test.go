package demodata

import (
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/storage"
)

// matches reports whether contact c is selected by filters f: every non-empty list must match one of
// its values exactly but case-insensitively, the company size must fall in [min, max] (a contact without
// a size never matches a size filter), and every keyword must be a case-insensitive substring of the
// first name, last name, title, company name, domain or industry.
func matches(c storage.Contact, f storage.SearchFilters) bool {
	oneOf := func(v string, vals []string) bool {
		if len(vals) == 0 {
			return true
		}
		return slices.ContainsFunc(vals, func(w string) bool { return strings.EqualFold(v, w) })
	}
	if !oneOf(c.Title, f.Titles) || !oneOf(c.Industry, f.Industries) || !oneOf(c.Country, f.Countries) {
		return false
	}
	if f.CompanySizeMin != nil || f.CompanySizeMax != nil {
		if c.CompanySize == nil {
			return false
		}
		if f.CompanySizeMin != nil && *c.CompanySize < *f.CompanySizeMin {
			return false
		}
		if f.CompanySizeMax != nil && *c.CompanySize > *f.CompanySizeMax {
			return false
		}
	}
	hay := strings.ToLower(strings.Join([]string{c.FirstName, c.LastName, c.Title, c.CompanyName, c.Domain, c.Industry}, "\x00"))
	for _, k := range f.Keywords {
		if !strings.Contains(hay, strings.ToLower(k)) {
			return false
		}
	}
	return true
}

func countMatches(cs []storage.Contact, f storage.SearchFilters) int {
	n := 0
	for _, c := range cs {
		if matches(c, f) {
			n++
		}
	}
	return n
}

// checkVocabulary fails t when f names a title, industry or country the generator never produces.
func checkVocabulary(t *testing.T, f storage.SearchFilters) {
	t.Helper()
	known := func(list string, vals []string, ok func(string) bool) {
		for _, v := range vals {
			require.Truef(t, ok(v), "%s value %q is not in the generator's vocabulary", list, v)
		}
	}
	known("titles", f.Titles, func(v string) bool {
		return slices.ContainsFunc(titles, func(w weighted) bool { return w.value == v })
	})
	known("industries", f.Industries, func(v string) bool {
		return slices.ContainsFunc(industries, func(i industry) bool { return i.name == v })
	})
	known("countries", f.Countries, func(v string) bool {
		return slices.ContainsFunc(countries, func(w weighted) bool { return w.value == v })
	})
}

func TestWordLists(t *testing.T) {
	values := func(ws []weighted) []string {
		out := make([]string, len(ws))
		for i, w := range ws {
			out[i] = w.value
		}
		return out
	}
	industryNames := make([]string, len(industries))
	for i, ind := range industries {
		industryNames[i] = ind.name
	}
	for _, tc := range []struct {
		name     string
		list     []string
		min, max int
	}{
		{"first names", firstNames, 140, 170},
		{"last names", lastNames, 140, 170},
		{"titles", values(titles), 35, 50},
		{"industries", industryNames, 15, 15},
		{"countries", values(countries), 12, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.GreaterOrEqual(t, len(tc.list), tc.min)
			require.LessOrEqual(t, len(tc.list), tc.max)
			seen := map[string]bool{}
			for _, v := range tc.list {
				require.NotEmpty(t, strings.TrimSpace(v))
				require.Falsef(t, seen[v], "duplicate entry %q", v)
				seen[v] = true
			}
		})
	}
	t.Run("names fold to ASCII", func(t *testing.T) {
		for _, name := range slices.Concat(firstNames, lastNames) {
			letters := 0
			for _, r := range name {
				if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' {
					letters++
				}
			}
			local := emailLocal(name)
			require.GreaterOrEqualf(t, len(local), letters, "emailLocal(%q) = %q drops letters", name, local)
			require.NotEmpty(t, strings.Trim(local, "-"))
		}
	})
}

func TestContactsDeterministic(t *testing.T) {
	a, b := Contacts(2000), Contacts(2000)
	require.Equal(t, a, b, "two calls of Contacts(2000) differ")
	require.Equal(t, a[:300], Contacts(300), "Contacts(300) is not a prefix of Contacts(2000)")
	// Company sizes are separate pointers, so changing one contact leaves the others and later calls alone.
	for i := range a {
		if a[i].CompanySize != nil {
			*a[i].CompanySize = -1
		}
	}
	require.Equal(t, b, Contacts(2000), "mutating a result changed later results")
}

func TestContactsCount(t *testing.T) {
	for _, n := range []int{-1, 0, 1, 17, 5000, 10000} {
		require.Lenf(t, Contacts(n), max(n, 0), "Contacts(%d)", n)
	}
}

var emailPattern = regexp.MustCompile(`^[a-z0-9-]+\.[a-z0-9-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$`)

func TestContactsEmails(t *testing.T) {
	cs := Contacts(10000)
	seen := make(map[string]int, len(cs))
	for i, c := range cs {
		if c.Email == "" {
			continue
		}
		j, dup := seen[strings.ToLower(c.Email)]
		require.Falsef(t, dup, "contacts %d and %d share email %q", j, i, c.Email)
		seen[strings.ToLower(c.Email)] = i
		require.Regexp(t, emailPattern, c.Email, "not first.last@domain in lowercase ASCII")
		a, err := mail.ParseAddress(c.Email)
		require.NoError(t, err)
		require.Equal(t, c.Email, a.Address)
		local, domain, _ := strings.Cut(c.Email, "@")
		require.Equal(t, emailLocal(c.FirstName)+"."+emailLocal(c.LastName), strings.TrimRight(local, "0123456789"),
			"email %q does not follow the name %q %q", c.Email, c.FirstName, c.LastName)
		if c.Domain != "" {
			require.Equal(t, c.Domain, domain, "email not at the company domain")
		} else {
			require.Contains(t, freeMailDomains, domain, "email of a person without company is not at a free-mail-like domain")
		}
	}
}

func TestContactsShares(t *testing.T) {
	cs := Contacts(5000)
	noCompany, noEmail := 0, 0
	for _, c := range cs {
		require.Truef(t, c.FirstName != "" && c.LastName != "" && c.Title != "" && c.Country != "", "incomplete contact %+v", c)
		require.Empty(t, c.ID)
		require.True(t, c.CreatedAt.IsZero())
		if c.Email == "" {
			noEmail++
		}
		if c.CompanyName == "" {
			noCompany++
			require.Truef(t, c.Domain == "" && c.Industry == "" && c.CompanySize == nil, "contact without company has company data: %+v", c)
		} else {
			require.Truef(t, c.Domain != "" && c.Industry != "" && c.CompanySize != nil, "contact with company lacks company data: %+v", c)
		}
	}
	for _, tc := range []struct {
		name     string
		count    int
		min, max float64
	}{
		{"without company data", noCompany, 0.05, 0.11},
		{"without email", noEmail, 0.01, 0.05},
	} {
		share := float64(tc.count) / float64(len(cs))
		require.GreaterOrEqualf(t, share, tc.min, "share %s", tc.name)
		require.LessOrEqualf(t, share, tc.max, "share %s", tc.name)
	}
}

func TestCompanies(t *testing.T) {
	byName := map[string]storage.Contact{}
	domains := map[string]string{}
	for _, c := range Contacts(10000) {
		if c.CompanyName == "" {
			continue
		}
		if first, ok := byName[c.CompanyName]; ok {
			require.Equal(t, []any{first.Domain, first.Industry, first.Country, *first.CompanySize},
				[]any{c.Domain, c.Industry, c.Country, *c.CompanySize}, "company %q has varying data", c.CompanyName)
			continue
		}
		byName[c.CompanyName] = c
		other, dup := domains[c.Domain]
		require.Falsef(t, dup, "companies %q and %q share domain %q", other, c.CompanyName, c.Domain)
		domains[c.Domain] = c.CompanyName
		require.Equal(t, strings.ReplaceAll(strings.ToLower(c.CompanyName), " ", "-")+".com", c.Domain)
		require.GreaterOrEqual(t, *c.CompanySize, minCompanySize)
		require.LessOrEqual(t, *c.CompanySize, maxCompanySize)
		checkVocabulary(t, storage.SearchFilters{Titles: []string{c.Title}, Industries: []string{c.Industry}, Countries: []string{c.Country}})
	}
	require.GreaterOrEqual(t, len(byName), 250)
	require.LessOrEqual(t, len(byName), companyCount)
	// Sizes spread over orders of magnitude.
	buckets := map[int]int{}
	for _, c := range byName {
		b := 0
		for s := *c.CompanySize; s >= 10; s /= 10 {
			b++
		}
		buckets[b]++
	}
	for b := 0; b <= 4; b++ {
		require.Positivef(t, buckets[b], "no company with size around 10^%d", b)
	}
}

func TestSavedSearches(t *testing.T) {
	cs := Contacts(5000)
	searches := SavedSearches()
	require.Len(t, searches, 4)
	require.Equal(t, searches, SavedSearches(), "two calls of SavedSearches differ")
	for _, s := range searches {
		t.Run(s.Name, func(t *testing.T) {
			require.NotEmpty(t, strings.TrimSpace(s.Name))
			require.NoError(t, s.Filters.Validate())
			checkVocabulary(t, s.Filters)
			n := countMatches(cs, s.Filters)
			t.Logf("matches %d of %d contacts", n, len(cs))
			require.GreaterOrEqual(t, n, 20, "matches of Contacts(5000)")
		})
	}
	searches[0].Filters.Titles[0] = "changed"
	require.NotEqual(t, "changed", SavedSearches()[0].Filters.Titles[0], "SavedSearches shares slices between calls")
}

func TestCampaigns(t *testing.T) {
	now := time.Date(2025, 1, 14, 9, 41, 27, 0, time.UTC)
	cs := Contacts(5000)
	got := Campaigns(now)
	require.Equal(t, got, Campaigns(now), "two calls of Campaigns differ")
	require.Len(t, got, 2)
	ptr := func(t time.Time) *time.Time { return &t }
	for i, tc := range []struct {
		kind       string
		start, end *time.Time
	}{
		{storage.CampaignKindCampaign, ptr(time.Date(2025, 1, 17, 9, 0, 0, 0, time.UTC)), ptr(now.Add(30 * 24 * time.Hour))},
		{storage.CampaignKindJourney, nil, ptr(now.Add(60 * 24 * time.Hour))},
	} {
		c := got[i]
		t.Run(c.Name, func(t *testing.T) {
			require.NotEmpty(t, c.Name)
			require.Equal(t, tc.kind, c.Kind)
			require.Equal(t, storage.CampaignModeActive, c.Mode)
			require.Equal(t, tc.start, c.StartAt)
			require.Equal(t, tc.end, c.EndAt)
			if c.StartAt != nil {
				require.True(t, c.EndAt.After(*c.StartAt), "end_at must be after start_at")
			}
			content := c.Content

			require.NotEmpty(t, content.Segments)
			require.LessOrEqual(t, len(content.Segments), 2)
			for _, s := range content.Segments {
				require.NotEmpty(t, s.Name)
				require.NoError(t, s.Filters.Validate(), "segment %q", s.Name)
				checkVocabulary(t, s.Filters)
				n := countMatches(cs, s.Filters)
				t.Logf("segment %q matches %d of %d contacts", s.Name, n, len(cs))
				require.GreaterOrEqual(t, n, 20, "segment %q matches of Contacts(5000)", s.Name)
			}

			require.Len(t, content.Prompts, 2)
			for _, p := range content.Prompts {
				require.NotEmpty(t, p.Name)
				require.Greater(t, len(p.Text), 200, "prompt %q is too short", p.Name)
			}

			var steps []string
			for _, m := range content.AIModelConfigs {
				steps = append(steps, m.Step)
				lo, hi := 0.0, 0.0
				if m.Step == stepPersonalise || m.Step == stepRewrite {
					lo, hi = 0.2, 0.7
				}
				require.Equal(t, "local", m.Provider)
				require.Equal(t, "rules-v1", m.Model)
				require.GreaterOrEqual(t, m.Temperature, lo, "step %s", m.Step)
				require.LessOrEqual(t, m.Temperature, hi, "step %s", m.Step)
			}
			require.Equal(t, []string{"qualify", "segment", "personalise", "rewrite"}, steps)

			require.Len(t, content.Sequences, 1)
			seq := content.Sequences[0]
			require.NotEmpty(t, seq.Name)
			require.Len(t, seq.Steps, 3)
			for j, st := range seq.Steps {
				require.Equal(t, []int{0, 3, 7}[j], st.DelayDays, "step %d", j)
				require.NotEmpty(t, st.Subject)
				paras := strings.Split(st.Body, "\n\n")
				require.GreaterOrEqual(t, len(paras), 3, "step %d paragraphs", j)
				require.LessOrEqual(t, len(paras), 4, "step %d paragraphs", j)
				for _, p := range paras {
					require.NotEmpty(t, p)
					require.Equal(t, strings.TrimSpace(p), p, "step %d has a padded paragraph", j)
				}
				require.Contains(t, st.Body, "{{first_name}}")
			}

			require.Len(t, content.TrackingLinks, 2)
			for _, l := range content.TrackingLinks {
				u, err := url.Parse(l.URL)
				require.NoError(t, err)
				require.Equal(t, "https", u.Scheme)
				require.Equal(t, "signoff-demo.example", u.Host)
				require.NotEmpty(t, l.Label)
			}
		})
	}
}

// BenchmarkContacts10000 measures the directory of `make dev`. Its speed is a figure to read, not a
// test: a wall-clock limit would fail on a busy machine or under -race.
func BenchmarkContacts10000(b *testing.B) {
	for b.Loop() {
		Contacts(10000)
	}
}
