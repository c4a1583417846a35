package services

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// User is a registered account. It has no password field: the hash stays in
// the repository and travels only through UserStore.Credentials.
type User struct {
	ID        int64
	Email     string
	Name      string
	Role      Role
	Version   int64 // goes up by one with every change
	CreatedAt time.Time
	UpdatedAt time.Time
}

// NewUser is what sign-up stores.
type NewUser struct {
	Email        string
	Name         string
	PasswordHash string
}

// UserFilter narrows a list; a nil field does not filter.
type UserFilter struct {
	Contains *string // in the name or the email, case-insensitively
}

// UserChanges is a partial update: nil fields keep their value.
type UserChanges struct {
	Email *string
	Name  *string
}

// UserStore persists users.
type UserStore interface {
	// EmailTaken reports whether an account has email. The unique index
	// stays the judge of a race: Create fails with a ConflictError then.
	EmailTaken(ctx context.Context, email string) (bool, error)
	Create(ctx context.Context, u NewUser) (User, error)
	Get(ctx context.Context, id int64) (User, error)
	List(ctx context.Context, f UserFilter, p Page) (PageOf[User], error)
	// Update changes the user if it is at one of versions (nil: any), and
	// reports ErrNotFound otherwise.
	Update(ctx context.Context, id int64, c UserChanges, versions Versions) (User, error)
	// LockForDelete holds the row until the transaction ends, so no item can
	// be added for the user while it is being deleted, and returns its
	// version.
	LockForDelete(ctx context.Context, id int64) (int64, error)
	Delete(ctx context.Context, id int64) error
	// SetRole reports ErrNotFound when no account has email.
	SetRole(ctx context.Context, email string, role Role) error
}

// OwnedItemsDeleter removes everything a user owns.
type OwnedItemsDeleter interface {
	DeleteByOwner(ctx context.Context, ownerID int64) error
}

// UserService holds the rules for accounts.
type UserService struct {
	users  UserStore
	items  OwnedItemsDeleter
	tx     Transactor
	hasher *PasswordHasher
}

func NewUserService(users UserStore, items OwnedItemsDeleter, tx Transactor, hasher *PasswordHasher) *UserService {
	return &UserService{users: users, items: items, tx: tx, hasher: hasher}
}

// SignUp stores a new account; email and name arrive normalised.
func (s *UserService) SignUp(ctx context.Context, email, name, password string) (User, error) {
	nu, err := s.PrepareSignUp(ctx, email, name, password)
	if err != nil {
		return User{}, err
	}
	return s.Create(ctx, nu)
}

// PrepareSignUp checks that email is free and hashes the password, which
// is most of a sign-up's cost: a taken email is refused before it, and a
// caller that stores the account in a transaction of its own does the
// hashing before it, so that no connection waits on a hash.
func (s *UserService) PrepareSignUp(ctx context.Context, email, name, password string) (NewUser, error) {
	taken, err := s.users.EmailTaken(ctx, email)
	if err != nil {
		return NewUser{}, fmt.Errorf("sign up: %w", err)
	}
	if taken {
		return NewUser{}, &ConflictError{Resource: "user", Field: "email"}
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return NewUser{}, fmt.Errorf("sign up: %w", err)
	}
	return NewUser{Email: email, Name: name, PasswordHash: hash}, nil
}

// Create stores an account PrepareSignUp made. The unique index on email
// judges a race between two sign-ups: the second is a ConflictError.
func (s *UserService) Create(ctx context.Context, nu NewUser) (User, error) {
	u, err := s.users.Create(ctx, nu)
	if err != nil {
		return User{}, fmt.Errorf("sign up: %w", err)
	}
	return u, nil
}

// Get returns a user to themselves or to an admin.
func (s *UserService) Get(ctx context.Context, caller Caller, id int64) (User, error) {
	if err := mayActOn(caller, id); err != nil {
		return User{}, err
	}
	u, err := s.users.Get(ctx, id)
	if err != nil {
		return User{}, fmt.Errorf("get user %d: %w", id, err)
	}
	return u, nil
}

// List is for admins only: it shows everyone's email.
func (s *UserService) List(ctx context.Context, caller Caller, f UserFilter, p Page) (PageOf[User], error) {
	if !caller.IsAdmin() {
		return PageOf[User]{}, ErrForbidden
	}
	page, err := s.users.List(ctx, f, p)
	if err != nil {
		return PageOf[User]{}, fmt.Errorf("list users: %w", err)
	}
	return page, nil
}

// Update changes a user, if it is at one of versions. A user changes only
// their own account, and anyone else's is forbidden whether or not it
// exists, so that ids cannot be probed; an admin changes any.
func (s *UserService) Update(ctx context.Context, caller Caller, id int64, c UserChanges, versions Versions) (User, error) {
	if err := mayActOn(caller, id); err != nil {
		return User{}, err
	}
	u, err := s.users.Update(ctx, id, c, versions)
	if errors.Is(err, ErrNotFound) {
		err = s.whyNot(ctx, caller, id)
	}
	if err != nil {
		return User{}, fmt.Errorf("update user %d: %w", id, err)
	}
	return u, nil
}

// Delete removes a user and everything they own, atomically, by the same
// rules as Update.
func (s *UserService) Delete(ctx context.Context, caller Caller, id int64, versions Versions) error {
	if err := mayActOn(caller, id); err != nil {
		return err
	}
	err := s.tx.ExecTx(ctx, func(ctx context.Context) error {
		version, err := s.users.LockForDelete(ctx, id)
		if err != nil {
			return err
		}
		if versions != nil && !slices.Contains(versions, version) {
			return ErrPreconditionFailed
		}
		if err := s.items.DeleteByOwner(ctx, id); err != nil {
			return err
		}
		return s.users.Delete(ctx, id)
	})
	if errors.Is(err, ErrNotFound) && caller.UserID == id {
		err = ErrUnauthenticated // the caller was deleted after authenticating
	}
	if err != nil {
		return fmt.Errorf("delete user %d: %w", id, err)
	}
	return nil
}

// SetRole gives the account with email a role; it takes effect on the
// account's next request. It is for operators (`server users promote`),
// not for the API.
func (s *UserService) SetRole(ctx context.Context, email string, role Role) error {
	if role != RoleUser && role != RoleAdmin {
		return fmt.Errorf("set role: %q is not a role", role)
	}
	email = strings.ToLower(strings.TrimSpace(email)) // as sign-up stores it
	if err := s.users.SetRole(ctx, email, role); err != nil {
		return fmt.Errorf("set role of %s: %w", email, err)
	}
	return nil
}

func mayActOn(caller Caller, id int64) error {
	if caller.UserID != id && !caller.IsAdmin() {
		return ErrForbidden
	}
	return nil
}

// whyNot tells apart the reasons an update matched nothing: the user is
// gone, or has changed since the version the caller named.
func (s *UserService) whyNot(ctx context.Context, caller Caller, id int64) error {
	_, err := s.users.Get(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound) && caller.UserID == id:
		return ErrUnauthenticated // the caller was deleted after authenticating
	case err != nil:
		return err
	}
	return ErrPreconditionFailed
}
