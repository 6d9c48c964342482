package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/signoff/signoff/app"
)

// roleJSON is a role as the API answers it (R-AUTH-5).
type roleJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Builtin     bool      `json:"builtin"`
	Permissions []string  `json:"permissions"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func toRoleJSON(r app.Role) roleJSON {
	perms := r.Permissions
	if perms == nil {
		perms = []string{}
	}
	return roleJSON{ID: r.ID, Name: r.Name, Builtin: r.Builtin, Permissions: perms, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

type createRoleRequest struct {
	Name        string    `json:"name"`
	Permissions *[]string `json:"permissions"`
}

type updateRoleRequest struct {
	Name        *string   `json:"name"`
	Permissions *[]string `json:"permissions"`
}

// listRoles answers the account's roles, built-in first.
func (s *Server) listRoles(c *gin.Context) {
	list, err := s.App.Roles(c.Request.Context(), currentUser(c))
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, items(mapEach(list, toRoleJSON)))
}

// createRole adds a custom role (users.manage).
func (s *Server) createRole(c *gin.Context) {
	var req createRoleRequest
	if !bindJSON(c, &req) {
		return
	}
	r, err := s.App.CreateRole(c.Request.Context(), currentUser(c), app.RoleInput{Name: req.Name, Permissions: req.Permissions})
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusCreated, toRoleJSON(r))
}

// updateRole renames or re-permissions a custom role (users.manage).
func (s *Server) updateRole(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req updateRoleRequest
	if !bindJSON(c, &req) {
		return
	}
	r, err := s.App.UpdateRole(c.Request.Context(), currentUser(c),
		app.UpdateRoleInput{ID: id, Name: req.Name, Permissions: req.Permissions})
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, toRoleJSON(r))
}

// deleteRole deletes a custom role no user holds (users.manage).
func (s *Server) deleteRole(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	if err := s.App.DeleteRole(c.Request.Context(), currentUser(c), id); err != nil {
		respondError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
