package api

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/signoff/signoff/storage"
)

type savedSearchRequest struct {
	Name    string                 `json:"name"`
	Filters *storage.SearchFilters `json:"filters"`
}

func (s *Server) createSavedSearch(c *gin.Context) {
	if !requireRole(c, storage.RoleAdmin, storage.RoleCSM) {
		return
	}
	var req savedSearchRequest
	if !bindJSON(c, &req) {
		return
	}
	req.Name = strings.TrimSpace(req.Name)
	if err := checkText("name", req.Name, true, 200); respondInvalid(c, err) {
		return
	}
	if req.Filters == nil {
		invalid(c, "filters", "is required (an object with titles, industries, countries, company_size_min, company_size_max, keywords)")
		return
	}
	if err := req.Filters.Validate(); respondInvalid(c, err) {
		return
	}
	u := currentUser(c)
	ss, err := s.Store.CreateSavedSearch(c.Request.Context(), u.AccountID, u.ID, req.Name, *req.Filters)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, ss)
}

func (s *Server) listSavedSearches(c *gin.Context) {
	list, err := s.Store.SavedSearches(c.Request.Context(), currentUser(c).AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, items(list))
}

func (s *Server) getSavedSearch(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	ss, err := s.Store.SavedSearch(c.Request.Context(), currentUser(c).AccountID, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ss)
}

func (s *Server) deleteSavedSearch(c *gin.Context) {
	if !requireRole(c, storage.RoleAdmin, storage.RoleCSM) {
		return
	}
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	if err := s.Store.DeleteSavedSearch(c.Request.Context(), currentUser(c).AccountID, id); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
