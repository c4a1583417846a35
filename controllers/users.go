package controllers

import (
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
	bind    *Binder
	cursors *Cursors
}

func NewUserController(users *services.UserService, bind *Binder, cursors *Cursors) *UserController {
	return &UserController{users: users, bind: bind, cursors: cursors}
}

func (ctl *UserController) Routes() []Route {
	return []Route{
		{http.MethodPost, "/users", Public, ctl.Create},
		{http.MethodGet, "/users", Bearer, ctl.List},
		{http.MethodGet, "/users/me", Bearer, ctl.Me},
		{http.MethodGet, "/users/:id", Bearer, ctl.Get},
		{http.MethodPut, "/users/:id", Bearer, ctl.Update},
		{http.MethodDelete, "/users/:id", Bearer, ctl.Delete},
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
	// RFC 3339, in UTC.
	CreatedAt time.Time `json:"created_at" format:"date-time" example:"2026-01-02T15:04:05.123456Z"`
	// RFC 3339, in UTC; moves forward on every change.
	UpdatedAt time.Time `json:"updated_at" format:"date-time" example:"2026-01-02T15:04:05.123456Z"`
} //	@name	User

func userResponse(u services.User) UserResponse {
	return UserResponse{ID: u.ID, Email: u.Email, Name: u.Name, CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()}
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
//	@Summary	Sign up
//	@ID			createUser
//	@Tags		users
//	@Accept		json
//	@Produce	json
//	@Param		body	body		CreateUserRequest	true	"The new user"
//	@Success	201		{object}	UserResponse
//	@Header		201		{string}	Location	"/users/{id}"
//	@Failure	400		{object}	Problem
//	@Failure	409		{object}	Problem	"The email is taken"
//	@Failure	413		{object}	Problem
//	@Failure	415		{object}	Problem
//	@Failure	500		{object}	Problem
//	@Failure	503		{object}	Problem
//	@Router		/users [post]
func (ctl *UserController) Create(c *gin.Context) error {
	var req CreateUserRequest
	if err := ctl.bind.JSON(c, &req); err != nil {
		return err
	}
	u, err := ctl.users.SignUp(c.Request.Context(), req.Email, req.Name, req.Password)
	if err != nil {
		return err
	}
	c.Header("Location", "/users/"+strconv.FormatInt(u.ID, 10))
	c.JSON(http.StatusCreated, userResponse(u))
	return nil
}

// List returns a page of users.
//
//	@Summary		List users
//	@Description	Pages by offset (up to 10000) or, beyond and more cheaply, by cursor: send next_cursor back as cursor, with the same sort and filters. Rows that tie on the sort field are ordered by id.
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
	page, err := ctl.users.List(c.Request.Context(), filter, p)
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
//	@Success	200	{object}	UserResponse
//	@Failure	401	{object}	Problem
//	@Failure	500	{object}	Problem
//	@Failure	503	{object}	Problem
//	@Security	BearerAuth
//	@Router		/users/me [get]
func (ctl *UserController) Me(c *gin.Context) error {
	return ctl.respondUser(c, callerOf(c).UserID)
}

// Get returns one user.
//
//	@Summary	Get a user
//	@ID			getUser
//	@Tags		users
//	@Produce	json
//	@Param		id	path		int	true	"User id"	minimum(1)	format(int64)
//	@Success	200	{object}	UserResponse
//	@Failure	400	{object}	Problem
//	@Failure	401	{object}	Problem
//	@Failure	404	{object}	Problem
//	@Failure	500	{object}	Problem
//	@Failure	503	{object}	Problem
//	@Security	BearerAuth
//	@Router		/users/{id} [get]
func (ctl *UserController) Get(c *gin.Context) error {
	var p IDPath
	if err := ctl.bind.Path(c, &p); err != nil {
		return err
	}
	return ctl.respondUser(c, p.ID)
}

func (ctl *UserController) respondUser(c *gin.Context, id int64) error {
	u, err := ctl.users.Get(c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, userResponse(u))
	return nil
}

// Update changes the caller's own user.
//
//	@Summary		Update your user
//	@Description	A partial update: absent fields keep their value. Only your own user: any other id is 403, whether or not it exists.
//	@ID				updateUser
//	@Tags			users
//	@Accept			json
//	@Produce		json
//	@Param			id		path		int					true	"User id"	minimum(1)	format(int64)
//	@Param			body	body		UpdateUserRequest	true	"Fields to change"
//	@Success		200		{object}	UserResponse
//	@Failure		400		{object}	Problem
//	@Failure		401		{object}	Problem
//	@Failure		403		{object}	Problem
//	@Failure		409		{object}	Problem	"The email is taken"
//	@Failure		413		{object}	Problem
//	@Failure		415		{object}	Problem
//	@Failure		500		{object}	Problem
//	@Failure		503		{object}	Problem
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
	u, err := ctl.users.Update(c.Request.Context(), callerOf(c), p.ID, services.UserChanges{Email: req.Email, Name: req.Name})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, userResponse(u))
	return nil
}

// Delete removes the caller's own user and their items.
//
//	@Summary		Delete your user
//	@Description	Deletes your user and all of their items. Only your own user: any other id is 403, whether or not it exists.
//	@ID				deleteUser
//	@Tags			users
//	@Produce		json
//	@Param			id	path	int	true	"User id"	minimum(1)	format(int64)
//	@Success		204
//	@Failure		400	{object}	Problem
//	@Failure		401	{object}	Problem
//	@Failure		403	{object}	Problem
//	@Failure		500	{object}	Problem
//	@Failure		503	{object}	Problem
//	@Security		BearerAuth
//	@Router			/users/{id} [delete]
func (ctl *UserController) Delete(c *gin.Context) error {
	var p IDPath
	if err := ctl.bind.Path(c, &p); err != nil {
		return err
	}
	if err := ctl.users.Delete(c.Request.Context(), callerOf(c), p.ID); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
