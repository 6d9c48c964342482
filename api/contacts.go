package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/signoff/signoff/storage"
)

// maxContactsPerRequest bounds POST /v1/contacts.
const maxContactsPerRequest = 1000

type contactInput struct {
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
	Email       string `json:"email"`
	Title       string `json:"title"`
	CompanyName string `json:"company_name"`
	Domain      string `json:"domain"`
	Industry    string `json:"industry"`
	Country     string `json:"country"`
	CompanySize *int   `json:"company_size"`
}

type createContactsRequest struct {
	Items []contactInput `json:"items"`
}

func (in contactInput) validate(i int) error {
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
		return &fieldError{f("domain"), "must be a bare domain such as example.com"}
	}
	if in.CompanySize != nil && (*in.CompanySize < 0 || *in.CompanySize > 10_000_000) {
		return &fieldError{f("company_size"), "must be between 0 and 10000000"}
	}
	return nil
}

// createContacts adds up to 1000 people to the directory in one statement; people whose email is
// already there are skipped, and the answer says how many were inserted.
func (s *Server) createContacts(c *gin.Context) {
	if !requireRole(c, storage.RoleAdmin, storage.RoleCSM) {
		return
	}
	var req createContactsRequest
	if !bindJSON(c, &req) {
		return
	}
	if len(req.Items) == 0 {
		invalid(c, "items", "send at least one contact")
		return
	}
	if len(req.Items) > maxContactsPerRequest {
		invalid(c, "items", fmt.Sprintf("at most %d contacts per request (got %d); split the upload", maxContactsPerRequest, len(req.Items)))
		return
	}
	cs := make([]storage.Contact, len(req.Items))
	for i, in := range req.Items {
		in.Email = strings.TrimSpace(in.Email)
		in.Domain = strings.ToLower(strings.TrimSpace(in.Domain))
		if err := in.validate(i); respondInvalid(c, err) {
			return
		}
		cs[i] = storage.Contact{FirstName: strings.TrimSpace(in.FirstName), LastName: strings.TrimSpace(in.LastName),
			Email: in.Email, Title: in.Title, CompanyName: in.CompanyName, Domain: in.Domain,
			Industry: in.Industry, Country: in.Country, CompanySize: in.CompanySize}
	}
	n, err := s.Store.InsertContacts(c.Request.Context(), currentUser(c).AccountID, cs)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"inserted": n})
}
