package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// maxContactsPerRequest bounds one CreateContacts.
const maxContactsPerRequest = 1000

// ContactInput is one person to add to the directory.
type ContactInput struct {
	FirstName   string
	LastName    string
	Email       string
	Title       string
	CompanyName string
	Domain      string
	Industry    string
	Country     string
	CompanySize *int
}

// CreateContacts adds up to 1000 people to the directory of u's account (drafts.build) in one
// statement and answers how many were inserted; people whose email is already there are skipped.
func (a *App) CreateContacts(ctx context.Context, u User, items []ContactInput) (int, error) {
	if err := requirePermission(u, storage.PermDraftsBuild); err != nil {
		return 0, err
	}
	if len(items) == 0 {
		return 0, errs.Invalid("items", "send at least one contact")
	}
	if len(items) > maxContactsPerRequest {
		return 0, errs.Invalid("items", fmt.Sprintf("at most %d contacts per request (got %d); split the upload", maxContactsPerRequest, len(items)))
	}
	cs := make([]storage.Contact, len(items))
	for i, in := range items {
		in.Email = strings.TrimSpace(in.Email)
		in.Domain = strings.ToLower(strings.TrimSpace(in.Domain))
		if err := in.validate(i); err != nil {
			return 0, err
		}
		cs[i] = storage.Contact{FirstName: strings.TrimSpace(in.FirstName), LastName: strings.TrimSpace(in.LastName),
			Email: in.Email, Title: in.Title, CompanyName: in.CompanyName, Domain: in.Domain,
			Industry: in.Industry, Country: in.Country, CompanySize: in.CompanySize}
	}
	n, err := a.Store.InsertContacts(ctx, u.AccountID, cs)
	return n, storeErr(err)
}

// validate checks the contact at index i of the request; the error names the field as items[i].name.
func (in ContactInput) validate(i int) error {
	f := func(name string) string { return fmt.Sprintf("items[%d].%s", i, name) }
	for _, t := range []struct {
		name     string
		v        string
		required bool
	}{{"first_name", in.FirstName, true}, {"last_name", in.LastName, true}, {"title", in.Title, false},
		{"company_name", in.CompanyName, false}, {"industry", in.Industry, false}, {"country", in.Country, false}} {
		if err := checkText(f(t.name), t.v, t.required, 200); err != nil {
			return err
		}
	}
	if err := checkEmail(f("email"), in.Email, false); err != nil {
		return err
	}
	if in.Domain != "" && (strings.ContainsAny(in.Domain, " /@:") || !strings.Contains(in.Domain, ".") || len(in.Domain) > 253) {
		return errs.Invalid(f("domain"), "must be a bare domain such as example.com")
	}
	if in.CompanySize != nil && (*in.CompanySize < 0 || *in.CompanySize > 10_000_000) {
		return errs.Invalid(f("company_size"), "must be between 0 and 10000000")
	}
	return nil
}
