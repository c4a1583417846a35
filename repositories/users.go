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

	selectUserPage = `
		SELECT ` + userColumns + ` FROM users
		ORDER BY id
		LIMIT $1 OFFSET $2`

	countUsers = `SELECT count(*) FROM users`

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

func (r *UserRepository) List(ctx context.Context, p services.Page) ([]services.User, int64, error) {
	q := r.data.DB(ctx)
	var rows []userRow
	if err := q.SelectContext(ctx, &rows, selectUserPage, p.Limit, p.Offset); err != nil {
		return nil, 0, fmt.Errorf("select users: %w", err)
	}
	var total int64
	if err := q.GetContext(ctx, &total, countUsers); err != nil {
		return nil, 0, fmt.Errorf("count users: %w", err)
	}
	users := make([]services.User, len(rows))
	for i, row := range rows {
		users[i] = row.user()
	}
	return users, total, nil
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
