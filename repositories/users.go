package repositories

import (
	"context"
	"fmt"
	"time"


	"github.com/example/apitemplate/services"
)

// userRow is a users row. It carries the password hash, so it never leaves
// this package: callers get services.User, which has no such field.
type userRow struct {
	ID           int64     `db:"id"`
	Email        string    `db:"email"`
	Name         string    `db:"name"`
	PasswordHash string    `db:"password_hash"`
	CreatedAt    time.Time `db:"created_at"`
	UpdatedAt    time.Time `db:"updated_at"`
}

func (r userRow) user() services.User {
	return services.User{ID: r.ID, Email: r.Email, Name: r.Name, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

const (
	userColumns = `id, email, name, created_at, updated_at`

	insertUser = `
		INSERT INTO users (email, name, password_hash)
		VALUES ($1, $2, $3)
		RETURNING ` + userColumns

	selectUser = `SELECT ` + userColumns + ` FROM users WHERE id = $1`

	selectUsers = `SELECT ` + userColumns + ` FROM users`

	updateUser = `
		UPDATE users
		SET email      = COALESCE($2, email),
		    name       = COALESCE($3, name),
		    updated_at = now()
		WHERE id = $1
		RETURNING ` + userColumns

	lockUser = `SELECT id FROM users WHERE id = $1 FOR UPDATE`

	deleteUser = `DELETE FROM users WHERE id = $1`

	selectCredentials = `SELECT id, password_hash FROM users WHERE lower(email) = $1` //nolint:gosec // a query, not a credential

	userExists = `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`

	emailTaken = `SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = $1)`
)

const emailUniqueIndex = "users_email_key"

// userSorts are the orders a list of users takes; each has an index on
// (column, id) (see the migrations).
var userSorts = map[string]sortKey{
	"id":         {"id", "bigint"},
	"created_at": {"created_at", "timestamptz"},
	"name":       {"name", "text"},
}

func (r userRow) cursor(field string) services.Cursor {
	c := services.Cursor{ID: r.ID}
	switch field {
	case "created_at":
		c.Value = cursorTime(r.CreatedAt)
	case "name":
		c.Value = r.Name
	}
	return c
}

// UserRepository stores users in PostgreSQL.
type UserRepository struct {
	data *Data
}

func NewUserRepository(data *Data) *UserRepository {
	return &UserRepository{data: data}
}

func (r *UserRepository) EmailTaken(ctx context.Context, email string) (bool, error) {
	var taken bool
	if err := r.data.DB(ctx).GetContext(ctx, &taken, emailTaken, email); err != nil {
		return false, fmt.Errorf("email taken: %w", err)
	}
	return taken, nil
}

func (r *UserRepository) Create(ctx context.Context, u services.NewUser) (services.User, error) {
	var row userRow
	err := r.data.DB(ctx).GetContext(ctx, &row, insertUser, u.Email, u.Name, u.PasswordHash)
	if err != nil {
		return services.User{}, userWriteError(err)
	}
	return row.user(), nil
}

func (r *UserRepository) Get(ctx context.Context, id int64) (services.User, error) {
	var row userRow
	if err := r.data.DB(ctx).GetContext(ctx, &row, selectUser, id); err != nil {
		return services.User{}, err
	}
	return row.user(), nil
}

// List reads a page of the users f matches, and counts them up to
// services.MaxCount.
func (r *UserRepository) List(ctx context.Context, f services.UserFilter, p services.Page) (services.PageOf[services.User], error) {
	var w where
	if f.Contains != nil {
		pattern := w.bind(likePattern(*f.Contains))
		w.and(`(name ILIKE ` + pattern + ` ESCAPE '\' OR email ILIKE ` + pattern + ` ESCAPE '\')`)
	}
	q := r.data.DB(ctx)
	var rows []userRow
	if err := selectPage(ctx, q, &rows, selectUsers, w, userSorts, p); err != nil {
		return services.PageOf[services.User]{}, fmt.Errorf("select users: %w", err)
	}
	total, exact, err := countUpTo(ctx, q, "users", w)
	if err != nil {
		return services.PageOf[services.User]{}, fmt.Errorf("count users: %w", err)
	}
	return pageOf(rows, p, total, exact, userRow.user, func(r userRow) services.Cursor { return r.cursor(p.Sort.Field) }), nil
}

func (r *UserRepository) Update(ctx context.Context, id int64, c services.UserChanges) (services.User, error) {
	var row userRow
	if err := r.data.DB(ctx).GetContext(ctx, &row, updateUser, id, c.Email, c.Name); err != nil {
		return services.User{}, userWriteError(err)
	}
	return row.user(), nil
}

func (r *UserRepository) LockForDelete(ctx context.Context, id int64) error {
	var locked int64
	return r.data.DB(ctx).GetContext(ctx, &locked, lockUser, id)
}

func (r *UserRepository) Delete(ctx context.Context, id int64) error {
	res, err := r.data.DB(ctx).ExecContext(ctx, deleteUser, id)
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	return expectRow(res)
}

func (r *UserRepository) Credentials(ctx context.Context, email string) (services.Credentials, error) {
	var row struct {
		ID           int64  `db:"id"`
		PasswordHash string `db:"password_hash"`
	}
	if err := r.data.DB(ctx).GetContext(ctx, &row, selectCredentials, email); err != nil {
		return services.Credentials{}, err
	}
	return services.Credentials{UserID: row.ID, PasswordHash: row.PasswordHash}, nil
}

func (r *UserRepository) Exists(ctx context.Context, id int64) (bool, error) {
	var exists bool
	if err := r.data.DB(ctx).GetContext(ctx, &exists, userExists, id); err != nil {
		return false, fmt.Errorf("user exists: %w", err)
	}
	return exists, nil
}

func userWriteError(err error) error {
	if uniqueViolation(err, emailUniqueIndex) {
		return &services.ConflictError{Resource: "user", Field: "email"}
	}
	return fmt.Errorf("write user: %w", err)
}
