package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/signoff/signoff/app"
)

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

func (in contactInput) toApp() app.ContactInput {
	return app.ContactInput{FirstName: in.FirstName, LastName: in.LastName, Email: in.Email, Title: in.Title,
		CompanyName: in.CompanyName, Domain: in.Domain, Industry: in.Industry, Country: in.Country, CompanySize: in.CompanySize}
}

type createContactsRequest struct {
	Items []contactInput `json:"items"`
}

// createContactsResponse says how many people were inserted.
type createContactsResponse struct {
	Inserted int `json:"inserted"`
}

// createContacts adds up to 1000 people to the directory; people whose email is already there are
// skipped, and the answer says how many were inserted.
func (s *Server) createContacts(c *gin.Context) {
	var req createContactsRequest
	if !bindJSON(c, &req) {
		return
	}
	in := make([]app.ContactInput, len(req.Items))
	for i, it := range req.Items {
		in[i] = it.toApp()
	}
	n, err := s.App.CreateContacts(c.Request.Context(), currentUser(c), in)
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, createContactsResponse{Inserted: n})
}
