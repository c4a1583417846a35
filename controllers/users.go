package controllers

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/example/apitemplate/services"
)

// UserController serves /users.
type UserController struct {
	users   *services.UserService
	auth    *services.AuthService
	idem    *services.IdempotencyService
	bind    *Binder
	cursors *Cursors
}

func NewUserController(users *services.UserService, auth *services.AuthService, idem *services.IdempotencyService, bind *Binder, cursors *Cursors) *UserController {
	return &UserController{users: users, auth: auth, idem: idem, bind: bind, cursors: cursors}
}

func (ctl *UserController) Routes() []Route {
	return []Route{
		{http.MethodPost, "/users", Public, ctl.Create},
		{http.MethodGet, "/users", Admin, ctl.List},
		{http.MethodGet, "/users/me", Bearer, ctl.Me},
		{http.MethodPut, "/users/me/password", Bearer, ctl.ChangePassword},
		{http.MethodGet, "/users/:id", SelfOrAdmin, ctl.Get},
		{http.MethodPut, "/users/:id", SelfOrAdmin, ctl.Update},
		{http.MethodPatch, "/users/:id", SelfOrAdmin, ctl.Patch},
		{http.MethodDelete, "/users/:id", SelfOrAdmin, ctl.Delete},
	}
}

// CreateUserRequest signs a user up.
//
//	@Description	A new user.
type CreateUserRequest struct {
	// Trimmed and lower-cased before it is checked and stored; unique case-insensitively.
	Email string `json:"email" binding:"required,max=255,email" format:"email" extensions:"x-trimmed" example:"ada@example.com"`
	// 1 to 100 characters once surrounding whitespace is trimmed.
	Name string `json:"name" binding:"required,min=1,max=100" extensions:"x-trimmed" example:"Ada Lovelace"`
	// 8 to 72 bytes of UTF-8 (bcrypt reads no more than 72), so 8 to 72 ASCII characters; a length in characters can only bound it from above.
	Password string `json:"password" binding:"required,minbytes=8,maxbytes=72" maxLength:"72" example:"correct horse"`
} //	@name	CreateUserRequest

func (r *CreateUserRequest) normalize() {
	r.Email = strings.ToLower(strings.TrimSpace(r.Email))
	r.Name = strings.TrimSpace(r.Name)
}

// UpdateUserRequest changes some of a user's fields; absent ones are kept.
//
//	@Description	The fields to change; absent (or null) ones keep their value.
type UpdateUserRequest struct {
	// Trimmed and lower-cased before it is checked and stored; unique case-insensitively.
	Email *string `json:"email" binding:"omitnil,max=255,email" format:"email" extensions:"x-trimmed" example:"ada@example.com"`
	// 1 to 100 characters once surrounding whitespace is trimmed.
	Name *string `json:"name" binding:"omitnil,min=1,max=100" extensions:"x-trimmed" example:"Ada King"`
} //	@name	UpdateUserRequest

func (r *UpdateUserRequest) normalize() {
	if r.Email != nil {
		*r.Email = strings.ToLower(strings.TrimSpace(*r.Email))
	}
	if r.Name != nil {
		*r.Name = strings.TrimSpace(*r.Name)
	}
}

// PatchUserRequest is a JSON Merge Patch of a user.
//
//	@Description	A JSON Merge Patch (RFC 7396): absent members keep their value; email and name cannot be null.
type PatchUserRequest struct {
	// Trimmed and lower-cased before it is checked and stored; unique case-insensitively; not null.
	Email *string `json:"email" binding:"omitnil,max=255,email" patch:"required" format:"email" extensions:"x-trimmed,x-not-null" example:"ada@example.com"`
	// 1 to 100 characters once surrounding whitespace is trimmed; not null.
	Name *string `json:"name" binding:"omitnil,min=1,max=100" patch:"required" extensions:"x-trimmed,x-not-null" example:"Ada King"`
} //	@name	PatchUserRequest

func (r *PatchUserRequest) normalize() {
	(*UpdateUserRequest)(r).normalize()
}

// ChangePasswordRequest replaces the caller's password.
//
//	@Description	The current password, and the new one.
type ChangePasswordRequest struct {
	// The password now; a wrong one is 403 and counts as a failed login.
	CurrentPassword string `json:"current_password" binding:"required,maxbytes=72" maxLength:"72" example:"correct horse"`
	// 8 to 72 bytes of UTF-8, as at sign-up.
	NewPassword string `json:"new_password" binding:"required,minbytes=8,maxbytes=72" maxLength:"72" example:"battery staple"`
} //	@name	ChangePasswordRequest

// UserResponse is a user as clients see it: never a password or its hash.
//
//	@Description	A user. Passwords and their hashes are never sent.
type UserResponse struct {
	// Assigned by the server.
	ID int64 `json:"id" minimum:"1" format:"int64" example:"1"`
	// Lower-case.
	Email string `json:"email" format:"email" example:"ada@example.com"`
	// 1 to 100 characters.
	Name string `json:"name" example:"Ada Lovelace"`
	// "admin" may read and change every user and item.
	Role string `json:"role" enums:"user,admin" example:"user"`
	// RFC 3339, in UTC.
	CreatedAt time.Time `json:"created_at" format:"date-time" example:"2026-01-02T15:04:05.123456Z"`
	// RFC 3339, in UTC; moves forward on every change.
	UpdatedAt time.Time `json:"updated_at" format:"date-time" example:"2026-01-02T15:04:05.123456Z"`
} //	@name	User

func userETag(u services.User) string { return etag(u.ID, u.Version) }

func userResponse(u services.User) UserResponse {
	return UserResponse{ID: u.ID, Email: u.Email, Name: u.Name, Role: string(u.Role), CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()}
}

// UserPage is a page of users.
//
//	@Description	One page of the users, in the order asked for (by id by default).
type UserPage = Page[UserResponse] //	@name	UserPage

// UserListQuery is a page of users, sorted and filtered.
type UserListQuery struct {
	PageQuery
	Sort *string `form:"sort" binding:"omitnil,oneof=id -id created_at -created_at name -name"`
	Q    *string `form:"q" binding:"omitnil,min=1,max=100"`
}

// Create signs a user up.
//
//	@Summary		Sign up
//	@Description	The new user's role is "user". A taken email is 409. With an Idempotency-Key, a retry of the same request within 24 hours gets the first answer again (Idempotent-Replayed: true) and creates nothing.
//	@ID				createUser
//	@Tags			users
//	@Accept			json
//	@Produce		json
//	@Param			Idempotency-Key	header		string				false	"Makes the request safe to retry: 1 to 255 visible ASCII characters"	minlength(1)	maxlength(255)
//	@Param			body			body		CreateUserRequest	true	"The new user"
//	@Success		201				{object}	UserResponse
//	@Header			201				{string}	Location			"/users/{id}"
//	@Header			201				{string}	ETag				"The user's version"
//	@Failure		400				{object}	Problem
//	@Failure		409				{object}	Problem	"The email is taken, or a request with this Idempotency-Key is still being processed"
//	@Failure		413				{object}	Problem
//	@Failure		415				{object}	Problem
//	@Failure		422				{object}	Problem	"The Idempotency-Key was used for a different request"
//	@Failure		500				{object}	Problem
//	@Failure		503				{object}	Problem	"The database is not reachable, or the server is busy (Retry-After)"
//	@Router			/users [post]
func (ctl *UserController) Create(c *gin.Context) error {
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	var req CreateUserRequest
	if err := ctl.bind.JSON(c, &req); err != nil {
		return err
	}
	ctx := c.Request.Context()
	const scope = "POST /users" // for sign-up, the key alone
	if key != "" {
		// A retry of a sign-up that succeeded finds its email taken: the
		// stored answer must come first.
		request, err := json.Marshal(req) //nolint:gosec // only a keyed digest of it is kept (services.IdempotencyService)
		if err != nil {
			return err
		}
		if a, ok, err := ctl.idem.Find(ctx, scope, key, request); err != nil || ok {
			if ok {
				writeAnswer(c, a, true)
			}
			return err
		}
	}
	nu, err := ctl.users.PrepareSignUp(ctx, req.Email, req.Name, req.Password)
	if err != nil {
		return err
	}
	return idempotent(c, ctl.idem, key, scope, req, func(ctx context.Context) (services.Answer, error) {
		u, err := ctl.users.Create(ctx, nu)
		if err != nil {
			return services.Answer{}, err
		}
		return created("/users/"+strconv.FormatInt(u.ID, 10), userETag(u), userResponse(u))
	})
}

// List returns a page of users.
//
//	@Summary		List users
//	@Description	Admins only. Pages by offset (up to 10000) or, beyond and more cheaply, by cursor: send next_cursor back as cursor, with the same sort and filters. Rows that tie on the sort field are ordered by id.
//	@ID				listUsers
//	@Tags			users
//	@Produce		json
//	@Param			limit	query		int		false	"Page size"											default(50)	minimum(1)	maximum(100)	format(int32)
//	@Param			offset	query		int		false	"Rows to skip; not with cursor"						default(0)	minimum(0)	maximum(10000)	format(int32)
//	@Param			cursor	query		string	false	"next_cursor of the previous page"
//	@Param			sort	query		string	false	"A field, or - and the field for descending"		default(id)	Enums(id, -id, created_at, -created_at, name, -name)
//	@Param			q		query		string	false	"Only users whose name or email contains this, case-insensitively (% and _ are literal)"	minlength(1)	maxlength(100)
//	@Success		200		{object}	UserPage
//	@Failure		400		{object}	Problem
//	@Failure		401		{object}	Problem
//	@Failure		403		{object}	Problem	"The caller is not an admin"
//	@Failure		500		{object}	Problem
//	@Failure		503		{object}	Problem
//	@Security		BearerAuth
//	@Router			/users [get]
func (ctl *UserController) List(c *gin.Context) error {
	q := UserListQuery{PageQuery: defaultPage()}
	if err := ctl.bind.Query(c, &q); err != nil {
		return err
	}
	filter := services.UserFilter{Contains: q.Q}
	sort := parseSort(q.Sort)
	binding := listBinding("/users", sort, filter)
	p, err := q.page(ctl.cursors, sort, binding)
	if err != nil {
		return err
	}
	page, err := ctl.users.List(c.Request.Context(), callerOf(c), filter, p)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, pageOf(page, userResponse, ctl.cursors, binding))
	return nil
}

// Me returns the caller.
//
//	@Summary	The caller's own user
//	@ID			getMe
//	@Tags		users
//	@Produce	json
//	@Param		If-None-Match	header		string	false	"An ETag of the user: 304 while it is current"
//	@Success	200				{object}	UserResponse
//	@Header		200				{string}	ETag	"The user's version"
//	@Success	304				"The user is still at the version If-None-Match names"
//	@Header		304				{string}	ETag	"The user's version"
//	@Failure	401				{object}	Problem
//	@Failure	500				{object}	Problem
//	@Failure	503				{object}	Problem
//	@Security	BearerAuth
//	@Router		/users/me [get]
func (ctl *UserController) Me(c *gin.Context) error {
	return ctl.respondUser(c, callerOf(c).UserID)
}

// Get returns one user.
//
//	@Summary		Get a user
//	@Description	Yourself, or anyone for an admin: another user's id is 403 for everyone else, whether or not it exists.
//	@ID				getUser
//	@Tags			users
//	@Produce		json
//	@Param			id				path		int		true	"User id"	minimum(1)	format(int64)
//	@Param			If-None-Match	header		string	false	"An ETag of the user: 304 while it is current"
//	@Success		200				{object}	UserResponse
//	@Header			200				{string}	ETag	"The user's version"
//	@Success		304				"The user is still at the version If-None-Match names"
//	@Header			304				{string}	ETag	"The user's version"
//	@Failure		400				{object}	Problem
//	@Failure		401				{object}	Problem
//	@Failure		403				{object}	Problem
//	@Failure		404				{object}	Problem
//	@Failure		500				{object}	Problem
//	@Failure		503				{object}	Problem
//	@Security		BearerAuth
//	@Router			/users/{id} [get]
func (ctl *UserController) Get(c *gin.Context) error {
	var p IDPath
	if err := ctl.bind.Path(c, &p); err != nil {
		return err
	}
	return ctl.respondUser(c, p.ID)
}

func (ctl *UserController) respondUser(c *gin.Context, id int64) error {
	u, err := ctl.users.Get(c.Request.Context(), callerOf(c), id)
	if err != nil {
		return err
	}
	if notModified(c, userETag(u)) {
		return nil
	}
	return writeResource(c, http.StatusOK, userETag(u), userResponse(u))
}

// Update changes a user.
//
//	@Summary		Update a user
//	@Description	A partial update: absent (or null) fields keep their value. Yourself, or anyone for an admin: another user's id is 403 for everyone else, whether or not it exists. With If-Match, it applies only while the user is at that version.
//	@ID				updateUser
//	@Tags			users
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int					true	"User id"	minimum(1)	format(int64)
//	@Param			If-Match	header		string				false	"An ETag of the user (or *): apply only if it is still current"
//	@Param			body		body		UpdateUserRequest	true	"Fields to change"
//	@Success		200			{object}	UserResponse
//	@Header			200			{string}	ETag	"The user's new version"
//	@Failure		400			{object}	Problem
//	@Failure		401			{object}	Problem
//	@Failure		403			{object}	Problem
//	@Failure		404			{object}	Problem	"An admin asked for a user who does not exist"
//	@Failure		409			{object}	Problem	"The email is taken"
//	@Failure		412			{object}	Problem	"The user has changed since the version If-Match names"
//	@Failure		413			{object}	Problem
//	@Failure		415			{object}	Problem
//	@Failure		500			{object}	Problem
//	@Failure		503			{object}	Problem
//	@Security		BearerAuth
//	@Router			/users/{id} [put]
func (ctl *UserController) Update(c *gin.Context) error {
	var (
		p   IDPath
		req UpdateUserRequest
	)
	if err := ctl.bind.Path(c, &p); err != nil {
		return err
	}
	if err := ctl.bind.JSON(c, &req); err != nil {
		return err
	}
	return ctl.change(c, p.ID, services.UserChanges{Email: req.Email, Name: req.Name})
}

// Patch changes a user by a JSON Merge Patch.
//
//	@Summary		Patch a user
//	@Description	A JSON Merge Patch (RFC 7396): absent members keep their value; email and name cannot be null. Yourself, or anyone for an admin: another user's id is 403 for everyone else, whether or not it exists. With If-Match, it applies only while the user is at that version.
//	@ID				patchUser
//	@Tags			users
//	@Accept			application/merge-patch+json
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int					true	"User id"	minimum(1)	format(int64)
//	@Param			If-Match	header		string				false	"An ETag of the user (or *): apply only if it is still current"
//	@Param			body		body		PatchUserRequest	true	"The merge patch"
//	@Success		200			{object}	UserResponse
//	@Header			200			{string}	ETag	"The user's new version"
//	@Failure		400			{object}	Problem
//	@Failure		401			{object}	Problem
//	@Failure		403			{object}	Problem
//	@Failure		404			{object}	Problem	"An admin asked for a user who does not exist"
//	@Failure		409			{object}	Problem	"The email is taken"
//	@Failure		412			{object}	Problem	"The user has changed since the version If-Match names"
//	@Failure		413			{object}	Problem
//	@Failure		415			{object}	Problem
//	@Failure		500			{object}	Problem
//	@Failure		503			{object}	Problem
//	@Security		BearerAuth
//	@Router			/users/{id} [patch]
func (ctl *UserController) Patch(c *gin.Context) error {
	var (
		p   IDPath
		req PatchUserRequest
	)
	if err := ctl.bind.Path(c, &p); err != nil {
		return err
	}
	if err := ctl.bind.MergePatch(c, &req); err != nil {
		return err
	}
	return ctl.change(c, p.ID, services.UserChanges{Email: req.Email, Name: req.Name})
}

func (ctl *UserController) change(c *gin.Context, id int64, changes services.UserChanges) error {
	u, err := ctl.users.Update(c.Request.Context(), callerOf(c), id, changes, ifMatch(c, id))
	if err != nil {
		return err
	}
	return writeResource(c, http.StatusOK, userETag(u), userResponse(u))
}

// Delete removes a user and their items.
//
//	@Summary		Delete a user
//	@Description	Deletes the user, their items and their sessions. Yourself, or anyone for an admin: another user's id is 403 for everyone else, whether or not it exists. With If-Match, it applies only while the user is at that version.
//	@ID				deleteUser
//	@Tags			users
//	@Produce		json
//	@Param			id			path	int		true	"User id"	minimum(1)	format(int64)
//	@Param			If-Match	header	string	false	"An ETag of the user (or *): delete only if it is still current"
//	@Success		204
//	@Failure		400	{object}	Problem
//	@Failure		401	{object}	Problem
//	@Failure		403	{object}	Problem
//	@Failure		404	{object}	Problem	"An admin asked for a user who does not exist"
//	@Failure		412	{object}	Problem	"The user has changed since the version If-Match names"
//	@Failure		500	{object}	Problem
//	@Failure		503	{object}	Problem
//	@Security		BearerAuth
//	@Router			/users/{id} [delete]
func (ctl *UserController) Delete(c *gin.Context) error {
	var p IDPath
	if err := ctl.bind.Path(c, &p); err != nil {
		return err
	}
	if err := ctl.users.Delete(c.Request.Context(), callerOf(c), p.ID, ifMatch(c, p.ID)); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// ChangePassword replaces the caller's password.
//
//	@Summary		Change your password
//	@Description	Checks the current password (a wrong one is 403 and counts as a failed login), then ends every session of yours: every refresh token stops working, and every access token issued before the change gets 401.
//	@ID				changePassword
//	@Tags			users
//	@Accept			json
//	@Produce		json
//	@Param			body	body	ChangePasswordRequest	true	"The current and the new password"
//	@Success		204
//	@Failure		400	{object}	Problem
//	@Failure		401	{object}	Problem
//	@Failure		403	{object}	Problem	"The current password is wrong"
//	@Failure		413	{object}	Problem
//	@Failure		415	{object}	Problem
//	@Failure		429	{object}	Problem
//	@Header			429	{integer}	Retry-After	"Seconds until a password may be tried again"
//	@Failure		500	{object}	Problem
//	@Failure		503	{object}	Problem	"The database is not reachable, or the server is busy (Retry-After)"
//	@Security		BearerAuth
//	@Router			/users/me/password [put]
func (ctl *UserController) ChangePassword(c *gin.Context) error {
	var req ChangePasswordRequest
	if err := ctl.bind.JSON(c, &req); err != nil {
		return err
	}
	if err := ctl.auth.ChangePassword(c.Request.Context(), callerOf(c), req.CurrentPassword, req.NewPassword, c.ClientIP()); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
