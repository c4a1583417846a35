package controllers

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/example/apitemplate/services"
)

// AuthController serves /auth.
type AuthController struct {
	auth *services.AuthService
	bind *Binder
}

func NewAuthController(auth *services.AuthService, bind *Binder) *AuthController {
	return &AuthController{auth: auth, bind: bind}
}

func (ctl *AuthController) Routes() []Route {
	return []Route{
		{http.MethodPost, "/auth/login", Public, ctl.Login},
		{http.MethodPost, "/auth/refresh", Public, ctl.Refresh},
		{http.MethodPost, "/auth/logout", Bearer, ctl.Logout},
	}
}

// LoginRequest is a login attempt.
//
//	@Description	Credentials for a login.
type LoginRequest struct {
	// Compared case-insensitively, surrounding whitespace ignored.
	Email string `json:"email" binding:"required,max=255" extensions:"x-trimmed" example:"ada@example.com"`
	// At most 72 bytes of UTF-8.
	Password string `json:"password" binding:"required,maxbytes=72" maxLength:"72" example:"correct horse"`
} //	@name	LoginRequest

func (r *LoginRequest) normalize() {
	r.Email = strings.ToLower(strings.TrimSpace(r.Email))
}

// TokenResponse is a session's tokens.
//
//	@Description	A bearer token for the Authorization header of protected routes, and the refresh token that gets the next one.
type TokenResponse struct {
	// An HS256 JWT; send it as "Authorization: Bearer <token>".
	AccessToken string `json:"access_token" example:"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..."`
	// Always Bearer.
	TokenType string `json:"token_type" enums:"Bearer" example:"Bearer"`
	// Seconds until the access token expires (JWT_TTL).
	ExpiresIn int `json:"expires_in" minimum:"1" maximum:"2147483647" format:"int32" example:"900"`
	// Opaque; send it to POST /auth/refresh for new tokens, once: each use
	// replaces it. Valid for REFRESH_TTL.
	RefreshToken string `json:"refresh_token" example:"kZ2x3Q..."`
} //	@name	TokenResponse

func tokenResponse(t services.Tokens) TokenResponse {
	return TokenResponse{AccessToken: t.Access, TokenType: "Bearer", ExpiresIn: int(t.ExpiresIn.Seconds()), RefreshToken: t.RefreshToken}
}

// RefreshRequest carries a refresh token.
//
//	@Description	A refresh token from a login or an earlier refresh.
type RefreshRequest struct {
	// The refresh token.
	RefreshToken string `json:"refresh_token" binding:"required,max=255" example:"kZ2x3Q..."`
} //	@name	RefreshRequest

// Login exchanges an email and password for a bearer token.
//
//	@Summary		Log in
//	@Description	Starts a session: an access token and a refresh token. Unknown email and wrong password get the same 401. Repeated failures are throttled per email and per client address: 429 until the window passes.
//	@ID				login
//	@Tags			auth
//	@Accept			json
//	@Produce		json
//	@Param			body	body		LoginRequest	true	"Credentials"
//	@Success		200		{object}	TokenResponse
//	@Failure		400		{object}	Problem
//	@Failure		401		{object}	Problem	"Unknown email or wrong password"
//	@Failure		413		{object}	Problem
//	@Failure		415		{object}	Problem
//	@Failure		429		{object}	Problem
//	@Header			429		{integer}	Retry-After	"Seconds until a login may be tried again"
//	@Failure		500		{object}	Problem
//	@Failure		503		{object}	Problem
//	@Router			/auth/login [post]
func (ctl *AuthController) Login(c *gin.Context) error {
	var req LoginRequest
	if err := ctl.bind.JSON(c, &req); err != nil {
		return err
	}
	tok, err := ctl.auth.Login(c.Request.Context(), req.Email, req.Password, c.ClientIP())
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, tokenResponse(tok))
	return nil
}

// Refresh exchanges a refresh token for new tokens.
//
//	@Summary		Refresh a session
//	@Description	The token sent stops working (rotation). One that was already used, revoked or expired is 401; presenting one that was already used also ends its whole session, for whoever holds a token of it.
//	@ID				refresh
//	@Tags			auth
//	@Accept			json
//	@Produce		json
//	@Param			body	body		RefreshRequest	true	"The refresh token"
//	@Success		200		{object}	TokenResponse
//	@Failure		400		{object}	Problem
//	@Failure		401		{object}	Problem	"Unknown, used, revoked or expired refresh token"
//	@Failure		413		{object}	Problem
//	@Failure		415		{object}	Problem
//	@Failure		500		{object}	Problem
//	@Failure		503		{object}	Problem
//	@Router			/auth/refresh [post]
func (ctl *AuthController) Refresh(c *gin.Context) error {
	var req RefreshRequest
	if err := ctl.bind.JSON(c, &req); err != nil {
		return err
	}
	tok, err := ctl.auth.Refresh(c.Request.Context(), req.RefreshToken)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, tokenResponse(tok))
	return nil
}

// Logout ends a session.
//
//	@Summary		Log out
//	@Description	The session of the refresh token ends: its refresh tokens stop working. A token that is unknown, or not yours, is 204 as well. Access tokens already issued run until they expire (JWT_TTL).
//	@ID				logout
//	@Tags			auth
//	@Accept			json
//	@Produce		json
//	@Param			body	body	RefreshRequest	true	"The session's refresh token"
//	@Success		204
//	@Failure		400	{object}	Problem
//	@Failure		401	{object}	Problem
//	@Failure		413	{object}	Problem
//	@Failure		415	{object}	Problem
//	@Failure		500	{object}	Problem
//	@Failure		503	{object}	Problem
//	@Security		BearerAuth
//	@Router			/auth/logout [post]
func (ctl *AuthController) Logout(c *gin.Context) error {
	var req RefreshRequest
	if err := ctl.bind.JSON(c, &req); err != nil {
		return err
	}
	if err := ctl.auth.Logout(c.Request.Context(), callerOf(c), req.RefreshToken); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
