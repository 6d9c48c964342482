package app

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/signoff/signoff/errs"
)

// csvFields are the contact fields a CSV column may map to.
var csvFields = []string{"first_name", "last_name", "email", "title", "company_name", "domain", "industry", "country", "company_size"}

// csvAliases are the normalised header names recognised for each field when no mapping is given.
var csvAliases = map[string][]string{
	"first_name":   {"firstname", "first", "givenname", "forename"},
	"last_name":    {"lastname", "last", "surname", "familyname"},
	"email":        {"email", "emailaddress", "workemail", "mail"},
	"title":        {"title", "jobtitle", "position", "role"},
	"company_name": {"companyname", "company", "organization", "organisation", "account", "accountname"},
	"domain":       {"domain", "companydomain", "website", "companywebsite", "url"},
	"industry":     {"industry", "sector"},
	"country":      {"country", "countryname", "location"},
	"company_size": {"companysize", "employees", "employeecount", "headcount", "size"},
}

// normaliseHeader keeps the letters and digits of a column name, lower-cased.
func normaliseHeader(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// autoMapping maps fields to columns by their header names.
func autoMapping(columns []string) map[string]string {
	m := map[string]string{}
	for _, f := range csvFields {
		for _, c := range columns {
			n := normaliseHeader(c)
			for _, a := range csvAliases[f] {
				if n == a {
					if _, taken := m[f]; !taken {
						m[f] = c
					}
				}
			}
		}
	}
	return m
}

// checkMapping validates a field → column mapping against the columns and the required fields:
// first name, last name, and company name or domain.
func checkMapping(m map[string]string, columns []string) error {
	cols := map[string]bool{}
	for _, c := range columns {
		cols[c] = true
	}
	for f, c := range m {
		if oneOf("mapping", f, csvFields...) != nil {
			field := "mapping." + f
			if len(f) > 50 {
				field = "mapping" // the name is not a field at all: do not echo it whole
			}
			return errs.Invalid(field, quoteShort(f)+" is not a contact field; use one of "+strings.Join(csvFields, ", "))
		}
		if !cols[c] {
			return errs.Invalid("mapping."+f, "the file has no column "+quoteShort(c))
		}
	}
	var missing []string
	for _, f := range []string{"first_name", "last_name"} {
		if m[f] == "" {
			missing = append(missing, f)
		}
	}
	if m["company_name"] == "" && m["domain"] == "" {
		missing = append(missing, "company_name or domain")
	}
	if len(missing) > 0 {
		return errs.Invalid("mapping", "no column for the required field(s) "+strings.Join(missing, ", ")+
			"; name the columns First Name, Last Name and Company Name or Domain, or send a mapping")
	}
	return nil
}

// quoteShort quotes v for a message, cut to 60 characters so a message never echoes a long input.
func quoteShort(v string) string {
	if r := []rune(v); len(r) > 60 {
		v = string(r[:60]) + "…"
	}
	return strconv.Quote(v)
}
