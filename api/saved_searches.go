package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/signoff/signoff/app"
)

// searchFiltersJSON are the people-directory filters as the API reads and answers them.
type searchFiltersJSON struct {
	Titles         []string `json:"titles"`
	Industries     []string `json:"industries"`
	Countries      []string `json:"countries"`
	CompanySizeMin *int     `json:"company_size_min"`
	CompanySizeMax *int     `json:"company_size_max"`
	Keywords       []string `json:"keywords"`
}

func toSearchFiltersJSON(f app.SearchFilters) searchFiltersJSON {
	return searchFiltersJSON{Titles: f.Titles, Industries: f.Industries, Countries: f.Countries,
		CompanySizeMin: f.CompanySizeMin, CompanySizeMax: f.CompanySizeMax, Keywords: f.Keywords}
}

func (f searchFiltersJSON) toApp() app.SearchFilters {
	return app.SearchFilters{Titles: f.Titles, Industries: f.Industries, Countries: f.Countries,
		CompanySizeMin: f.CompanySizeMin, CompanySizeMax: f.CompanySizeMax, Keywords: f.Keywords}
}

// savedSearchJSON is a saved search as the API answers it.
type savedSearchJSON struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Filters   searchFiltersJSON `json:"filters"`
	CreatedBy string            `json:"created_by"`
	CreatedAt time.Time         `json:"created_at"`
}

func toSavedSearchJSON(ss app.SavedSearch) savedSearchJSON {
	return savedSearchJSON{ID: ss.ID, Name: ss.Name, Filters: toSearchFiltersJSON(ss.Filters), CreatedBy: ss.CreatedBy, CreatedAt: ss.CreatedAt}
}

type savedSearchRequest struct {
	Name    string             `json:"name"`
	Filters *searchFiltersJSON `json:"filters"`
}

func (s *Server) createSavedSearch(c *gin.Context) {
	var req savedSearchRequest
	if !bindJSON(c, &req) {
		return
	}
	in := app.SavedSearchInput{Name: req.Name}
	if req.Filters != nil {
		f := req.Filters.toApp()
		in.Filters = &f
	}
	ss, err := s.App.CreateSavedSearch(c.Request.Context(), currentUser(c), in)
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusCreated, toSavedSearchJSON(ss))
}

func (s *Server) listSavedSearches(c *gin.Context) {
	list, err := s.App.SavedSearches(c.Request.Context(), currentUser(c))
	if err != nil {
		respondError(c, err)
		return
	}
	out := make([]savedSearchJSON, len(list))
	for i, ss := range list {
		out[i] = toSavedSearchJSON(ss)
	}
	c.JSON(http.StatusOK, items(out))
}

func (s *Server) getSavedSearch(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	ss, err := s.App.SavedSearch(c.Request.Context(), currentUser(c), id)
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, toSavedSearchJSON(ss))
}

func (s *Server) deleteSavedSearch(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	if err := s.App.DeleteSavedSearch(c.Request.Context(), currentUser(c), id); err != nil {
		respondError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
