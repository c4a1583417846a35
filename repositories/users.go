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
	Role         string    `db:"role"`
	Version      int64     `db:"version"`
	PasswordHash string    `db:"password_hash"`
	CreatedAt    time.Time `db:"created_at"`
	UpdatedAt    time.Time `db:"updated_at"`
}

func (r userRow) user() services.User {
	return services.User{
		ID: r.ID, Email: r.Email, Name: r.Name, Role: services.Role(r.Role), Version: r.Version,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

const (
	userColumns = `id, email, name, role, version, created_at, updated_at`

	insertUser = `
		INSERT INTO users (email, name, password_hash)
		VALUES ($1, $2, $3)
		RETURNING ` + userColumns

	selectUser = `SELECT ` + userColumns + ` FROM users WHERE id = $1`

	selectUsers = `SELECT ` + userColumns + ` FROM users`

	// A NULL change keeps the column. The WHERE clause is the id and, for a
	// conditional write, the versions (see Update).
	updateUser = `
		UPDATE users
		SET email      = COALESCE($2, email),
		    name       = COALESCE($3, name),
		    version    = version + 1,
		    updated_at = now()`

	lockUser = `SELECT version FROM users WHERE id = $1 FOR UPDATE`

	deleteUser = `DELETE FROM users WHERE id = $1`

	selectCredentials = `SELECT id, email, password_hash, token_generation FROM users WHERE lower(email) = $1` //nolint:gosec // a query, not a credential

	selectCredentialsOf = `SELECT id, email, password_hash, token_generation FROM users WHERE id = $1` //nolint:gosec // a query, not a credential

	// Every protected request reads this, to know that the token's user
	// still exists, what they may do, and whether the token is of their
	// current generation.
	selectIdentity = `SELECT role, token_generation FROM users WHERE id = $1`

	// A new password moves the token generation on: every access token
	// issued before it stops working.
	updatePassword = `
		UPDATE users
		SET password_hash    = $2,
		    token_generation = token_generation + 1,
		    version          = version + 1,
		    updated_at       = now()
		WHERE id = $1
		RETURNING token_generation` //nolint:gosec // a query, not a credential

	updateRole = `
		UPDATE users
		SET role       = $2,
		    version    = version + 1,
		    updated_at = now()
		WHERE lower(email) = $1`

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
	total, exact, err := countUpTo(ctx, q, "users", w, p, len(rows))
	if err != nil {
		return services.PageOf[services.User]{}, fmt.Errorf("count users: %w", err)
	}
	return pageOf(rows, p, total, exact, userRow.user, func(r userRow) services.Cursor { return r.cursor(p.Sort.Field) }), nil
}

// Update changes the user if it is at one of versions (nil: any), in one
// statement, so a concurrent write cannot slip in between.
func (r *UserRepository) Update(ctx context.Context, id int64, c services.UserChanges, versions services.Versions) (services.User, error) {
	cond := where{args: []any{id, c.Email, c.Name}}
	cond.and("id = $1")
	cond.writeCondition(services.WriteCondition{Versions: versions})
	var row userRow
	if err := r.data.DB(ctx).GetContext(ctx, &row, updateUser+cond.clause()+` RETURNING `+userColumns, cond.args...); err != nil {
		return services.User{}, userWriteError(err)
	}
	return row.user(), nil
}

func (r *UserRepository) LockForDelete(ctx context.Context, id int64) (int64, error) {
	var version int64
	if err := r.data.DB(ctx).GetContext(ctx, &version, lockUser, id); err != nil {
		return 0, fmt.Errorf("lock user: %w", err)
	}
	return version, nil
}

func (r *UserRepository) Delete(ctx context.Context, id int64) error {
	res, err := r.data.DB(ctx).ExecContext(ctx, deleteUser, id)
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	return expectRow(res)
}

func (r *UserRepository) Credentials(ctx context.Context, email string) (services.Credentials, error) {
	return r.credentials(ctx, selectCredentials, email)
}

func (r *UserRepository) CredentialsOf(ctx context.Context, id int64) (services.Credentials, error) {
	return r.credentials(ctx, selectCredentialsOf, id)
}

func (r *UserRepository) credentials(ctx context.Context, query string, arg any) (services.Credentials, error) {
	var row struct {
		ID              int64  `db:"id"`
		Email           string `db:"email"`
		PasswordHash    string `db:"password_hash"`
		TokenGeneration int64  `db:"token_generation"`
	}
	if err := r.data.DB(ctx).GetContext(ctx, &row, query, arg); err != nil {
		return services.Credentials{}, fmt.Errorf("credentials: %w", err)
	}
	return services.Credentials{UserID: row.ID, Email: row.Email, PasswordHash: row.PasswordHash, TokenGeneration: row.TokenGeneration}, nil
}

func (r *UserRepository) Identity(ctx context.Context, id int64) (services.Identity, error) {
	var row struct {
		Role            string `db:"role"`
		TokenGeneration int64  `db:"token_generation"`
	}
	if err := r.data.DB(ctx).GetContext(ctx, &row, selectIdentity, id); err != nil {
		return services.Identity{}, fmt.Errorf("identity: %w", err)
	}
	return services.Identity{Role: services.Role(row.Role), TokenGeneration: row.TokenGeneration}, nil
}

func (r *UserRepository) SetPassword(ctx context.Context, id int64, hash string) (int64, error) {
	var generation int64
	if err := r.data.DB(ctx).GetContext(ctx, &generation, updatePassword, id, hash); err != nil {
		return 0, fmt.Errorf("set password: %w", err)
	}
	return generation, nil
}

func (r *UserRepository) SetRole(ctx context.Context, email string, role services.Role) error {
	res, err := r.data.DB(ctx).ExecContext(ctx, updateRole, email, string(role))
	if err != nil {
		return fmt.Errorf("set role: %w", err)
	}
	return expectRow(res)
}

func userWriteError(err error) error {
	if uniqueViolation(err, emailUniqueIndex) {
		return &services.ConflictError{Resource: "user", Field: "email"}
	}
	return fmt.Errorf("write user: %w", err)
}
