package storage

import (
	"fmt"
	"math"
	"strings"
)

// SearchFilters select people from the directory: every non-empty list must match one of its values
// (case-insensitive), the company size must fall in the range, and every keyword must appear in the
// person's name, title, company, domain or industry.
type SearchFilters struct {
	Titles         []string `json:"titles"`
	Industries     []string `json:"industries"`
	Countries      []string `json:"countries"`
	CompanySizeMin *int     `json:"company_size_min"`
	CompanySizeMax *int     `json:"company_size_max"`
	Keywords       []string `json:"keywords"`
}

// Limits on filter lists and values.
const (
	maxFilterValues = 50
	maxFilterLen    = 200
)

// MaxCompanySize is the largest company size the directory's and the leads' integer columns hold
// (Postgres integer); a filter or a lead beyond it could never match or be stored.
const MaxCompanySize = math.MaxInt32

// FilterError names the filter field that is invalid.
type FilterError struct {
	Field   string
	Message string
}

func (e *FilterError) Error() string { return e.Field + ": " + e.Message }

// Validate checks the filters and returns a *FilterError naming the first bad field.
func (f SearchFilters) Validate() error {
	lists := []struct {
		name string
		vals []string
	}{{"titles", f.Titles}, {"industries", f.Industries}, {"countries", f.Countries}, {"keywords", f.Keywords}}
	for _, l := range lists {
		if len(l.vals) > maxFilterValues {
			return &FilterError{"filters." + l.name, fmt.Sprintf("at most %d values", maxFilterValues)}
		}
		for i, v := range l.vals {
			if strings.TrimSpace(v) == "" {
				return &FilterError{fmt.Sprintf("filters.%s[%d]", l.name, i), "must not be empty"}
			}
			if len(v) > maxFilterLen {
				return &FilterError{fmt.Sprintf("filters.%s[%d]", l.name, i), fmt.Sprintf("at most %d characters", maxFilterLen)}
			}
		}
	}
	for _, b := range []struct {
		name string
		v    *int
	}{{"company_size_min", f.CompanySizeMin}, {"company_size_max", f.CompanySizeMax}} {
		if b.v != nil && (*b.v < 0 || *b.v > MaxCompanySize) {
			return &FilterError{"filters." + b.name, fmt.Sprintf("must be a whole number from 0 to %d (got %d)", MaxCompanySize, *b.v)}
		}
	}
	if f.CompanySizeMin != nil && f.CompanySizeMax != nil && *f.CompanySizeMin > *f.CompanySizeMax {
		return &FilterError{"filters.company_size_max", "must not be less than company_size_min"}
	}
	return nil
}
