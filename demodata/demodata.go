// Package demodata generates deterministic, realistic demo data for Signoff: a B2B people directory,
// saved searches over it and campaigns with full content. Every call returns the same data.
package demodata

import (
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/signoff/signoff/storage"
)

// Fixed PCG seeds: one stream builds the companies, another the people.
const (
	companySeed1, companySeed2 = 0x5167_6e6f_6666_0001, 0x636f_6d70_616e_6965
	contactSeed1, contactSeed2 = 0x5167_6e6f_6666_0002, 0x7065_6f70_6c65_0000
)

// Shape of the generated directory.
const (
	companyCount     = 300
	minCompanySize   = 5
	maxCompanySize   = 20000
	noCompanyPercent = 8 // people without company data
	noEmailPercent   = 3 // people without an email address
)

// company is a fictional employer shared by the people who work there.
type company struct {
	name     string
	domain   string
	industry string
	country  string
	size     int
}

// directory holds the companies and the cumulative sampling weights of people's attributes.
type directory struct {
	companies   []company
	companyCum  []float64
	titleCum    []float64
	countryCum  []float64
	industryCum []float64
}

// dir builds the directory once; it is read-only afterwards.
var dir = sync.OnceValue(buildDirectory)

func buildDirectory() *directory {
	d := &directory{
		titleCum:    cumulative(len(titles), func(i int) float64 { return titles[i].weight }),
		countryCum:  cumulative(len(countries), func(i int) float64 { return countries[i].weight }),
		industryCum: cumulative(len(industries), func(i int) float64 { return industries[i].weight }),
	}
	r := rand.New(rand.NewPCG(companySeed1, companySeed2))

	stems := make([]string, 0, len(stemHeads)*len(stemTails)+len(stemWords))
	for _, h := range stemHeads {
		for _, t := range stemTails {
			stems = append(stems, h+t)
		}
	}
	stems = append(stems, stemWords...)
	r.Shuffle(len(stems), func(i, j int) { stems[i], stems[j] = stems[j], stems[i] })

	lo, hi := math.Log(minCompanySize), math.Log(maxCompanySize)
	d.companies = make([]company, companyCount)
	for i := range d.companies {
		ind := industries[pick(r, d.industryCum)]
		name := stems[i] + " " + ind.suffixes[r.IntN(len(ind.suffixes))]
		d.companies[i] = company{
			name:     name,
			domain:   strings.ReplaceAll(strings.ToLower(name), " ", "-") + ".com",
			industry: ind.name,
			country:  countries[pick(r, d.countryCum)].value,
			size:     int(math.Round(math.Exp(lo + r.Float64()*(hi-lo)))),
		}
	}
	// Larger companies appear more often in the directory, but not proportionally to their size.
	d.companyCum = cumulative(len(d.companies), func(i int) float64 { return 1 + math.Log10(float64(d.companies[i].size)) })
	return d
}

// cumulative returns the running sums of n weights.
func cumulative(n int, weight func(int) float64) []float64 {
	cum := make([]float64, n)
	total := 0.0
	for i := range cum {
		total += weight(i)
		cum[i] = total
	}
	return cum
}

// pick draws an index with probability proportional to its weight, given cumulative weights.
func pick(r *rand.Rand, cum []float64) int {
	x := r.Float64() * cum[len(cum)-1]
	return sort.SearchFloat64s(cum, x)
}

// Contacts returns n realistic B2B people with unique emails; about 8% have no company data and
// about 3% no email. The result is the same on every call, and Contacts(k) is a prefix of Contacts(n) for k ≤ n.
func Contacts(n int) []storage.Contact {
	if n <= 0 {
		return []storage.Contact{}
	}
	d := dir()
	r := rand.New(rand.NewPCG(contactSeed1, contactSeed2))
	used := make(map[string]struct{}, n)
	out := make([]storage.Contact, n)
	for i := range out {
		c := storage.Contact{
			FirstName: firstNames[r.IntN(len(firstNames))],
			LastName:  lastNames[r.IntN(len(lastNames))],
			Title:     titles[pick(r, d.titleCum)].value,
		}
		var domain string
		if r.IntN(100) < noCompanyPercent {
			c.Country = countries[pick(r, d.countryCum)].value
			domain = freeMailDomains[r.IntN(len(freeMailDomains))]
		} else {
			co := d.companies[pick(r, d.companyCum)]
			c.CompanyName, c.Domain, c.Industry, c.Country = co.name, co.domain, co.industry, co.country
			c.CompanySize = new(co.size)
			domain = co.domain
		}
		if r.IntN(100) >= noEmailPercent {
			c.Email = uniqueEmail(used, emailLocal(c.FirstName)+"."+emailLocal(c.LastName), domain)
		}
		out[i] = c
	}
	return out
}

// uniqueEmail returns local@domain, or local2@domain, local3@domain, … when taken, and records it in used.
func uniqueEmail(used map[string]struct{}, local, domain string) string {
	email := local + "@" + domain
	for k := 2; ; k++ {
		if _, taken := used[email]; !taken {
			used[email] = struct{}{}
			return email
		}
		email = local + strconv.Itoa(k) + "@" + domain
	}
}

// asciiFold maps the lowercase accented letters of the name lists to ASCII.
var asciiFold = strings.NewReplacer(
	"á", "a", "à", "a", "â", "a", "ã", "a", "ä", "a", "å", "a",
	"é", "e", "è", "e", "ê", "e", "ë", "e",
	"í", "i", "ì", "i", "î", "i", "ï", "i",
	"ó", "o", "ò", "o", "ô", "o", "õ", "o", "ö", "o", "ø", "o",
	"ú", "u", "ù", "u", "û", "u", "ü", "u",
	"ñ", "n", "ç", "c", "č", "c", "ř", "r", "ś", "s", "ł", "l", "ß", "ss",
)

// emailLocal turns a name into lowercase ASCII letters, digits and hyphens for an email's local part.
func emailLocal(name string) string {
	folded := asciiFold.Replace(strings.ToLower(name))
	var b strings.Builder
	b.Grow(len(folded))
	for _, ch := range folded {
		if ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' {
			b.WriteRune(ch)
		}
	}
	return b.String()
}

// SavedSearch is a named people-directory query whose filters use the vocabulary of Contacts.
type SavedSearch struct {
	Name    string
	Filters storage.SearchFilters
}

// europe lists the European countries people are generated in.
var europe = []string{countryUK, countryGermany, countryFrance, countryNetherlands, countrySweden, countrySpain}

// SavedSearches returns four saved searches, each matching a meaningful share of Contacts(5000).
// Every call returns fresh slices.
func SavedSearches() []SavedSearch {
	return []SavedSearch{
		{
			Name: "Marketing leaders at software companies in the US",
			Filters: storage.SearchFilters{
				Titles:     []string{titleCMO, titleVPMarketing, titleHeadMarketing, titleMarketingDir},
				Industries: []string{industrySoftware},
				Countries:  []string{countryUS},
			},
		},
		{
			Name: "Fintech decision makers in Europe",
			Filters: storage.SearchFilters{
				Titles:     []string{titleCEO, titleFounder, titleCoFounder, titleCOO, titleCFO, titleVPFinance, titleHeadFinance},
				Industries: []string{industryFintech},
				Countries:  append([]string(nil), europe...),
			},
		},
		{
			Name: "Mid-size logistics companies",
			Filters: storage.SearchFilters{
				Industries:     []string{industryLogistics},
				CompanySizeMin: new(200),
				CompanySizeMax: new(2000),
			},
		},
		{
			Name:    "Growth people, any industry",
			Filters: storage.SearchFilters{Keywords: []string{"growth"}},
		},
	}
}
