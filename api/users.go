package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/signoff/signoff/app"
)

// userJSON is a user as the API answers it.
type userJSON struct {
	ID         string    `json:"id"`
	AccountID  string    `json:"account_id"`
	Email      string    `json:"email"`
	Name       string    `json:"name"`
	Role       string    `json:"role"`
	CanApprove bool      `json:"can_approve"`
	Active     bool      `json:"active"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// Permissions are what the user may do: their role's permissions and an editor's approval grant
	// (R-AUTH-5); empty for a deactivated user.
	Permissions []string `json:"permissions"`
}

func toUserJSON(u app.User) userJSON {
	return userJSON{ID: u.ID, AccountID: u.AccountID, Email: u.Email, Name: u.Name, Role: u.Role,
		CanApprove: u.CanApprove, Active: u.Active, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, Permissions: u.Permissions()}
}

type createUserRequest struct {
	Email      string `json:"email"`
	Name       string `json:"name"`
	Role       string `json:"role"`
	CanApprove bool   `json:"can_approve"`
}

// createUserResponse is a new user and its token.
type createUserResponse struct {
	Token string   `json:"token"`
	User  userJSON `json:"user"`
}

type updateUserRequest struct {
	Role       *string `json:"role"`
	CanApprove *bool   `json:"can_approve"`
	Active     *bool   `json:"active"`
}

// me answers the caller, as the token resolved it.
func (s *Server) listUsers(c *gin.Context) {
	users, err := s.App.Users(c.Request.Context(), currentUser(c))
	if err != nil {
		respondError(c, err)
		return
	}
	out := make([]userJSON, len(users))
	for i, u := range users {
		out[i] = toUserJSON(u)
	}
	c.JSON(http.StatusOK, items(out))
}

// createUser answers the new user and its token, shown this once (R-AUTH-1): never cached, never
// kept for an Idempotency-Key replay.
func (s *Server) createUser(c *gin.Context) {
	var req createUserRequest
	if !bindJSON(c, &req) {
		return
	}
	out, err := s.App.CreateUser(c.Request.Context(), currentUser(c),
		app.CreateUserInput{Email: req.Email, Name: req.Name, Role: req.Role, CanApprove: req.CanApprove})
	if err != nil {
		respondError(c, err)
		return
	}
	answerHasSecrets(c, "token") // a keyed retry answers the user with "token": null
	c.JSON(http.StatusCreated, createUserResponse{Token: out.Token, User: toUserJSON(out.User)})
}

// updateUser changes a user's role, approval grant or activity (admins only).
func (s *Server) updateUser(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req updateUserRequest
	if !bindJSON(c, &req) {
		return
	}
	u, err := s.App.UpdateUser(c.Request.Context(), currentUser(c),
		app.UpdateUserInput{ID: id, Role: req.Role, CanApprove: req.CanApprove, Active: req.Active})
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, toUserJSON(u))
}
