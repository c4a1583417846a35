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

// TokenResponse is an issued access token.
//
//	@Description	A bearer token for the Authorization header of protected routes.
type TokenResponse struct {
	// An HS256 JWT; send it as "Authorization: Bearer <token>".
	AccessToken string `json:"access_token" example:"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..."`
	// Always Bearer.
	TokenType string `json:"token_type" enums:"Bearer" example:"Bearer"`
	// Seconds until the token expires.
	ExpiresIn int `json:"expires_in" minimum:"1" maximum:"2147483647" format:"int32" example:"900"`
} //	@name	TokenResponse

// Login exchanges an email and password for a bearer token.
//
//	@Summary		Log in
//	@Description	Unknown email and wrong password get the same 401. Repeated failures are throttled per email and per client address: 429 until the window passes.
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
	c.JSON(http.StatusOK, TokenResponse{AccessToken: tok.Token, TokenType: "Bearer", ExpiresIn: int(tok.ExpiresIn.Seconds())})
	return nil
}
