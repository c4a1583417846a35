package services

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// User is a registered account. It has no password field: the hash stays in
// the repository and travels only through UserStore.Credentials.
type User struct {
	ID        int64
	Email     string
	Name      string
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
	Update(ctx context.Context, id int64, c UserChanges) (User, error)
	// LockForDelete holds the row until the transaction ends, so no item can
	// be added for the user while it is being deleted.
	LockForDelete(ctx context.Context, id int64) error
	Delete(ctx context.Context, id int64) error
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

// SignUp stores a new account; email and name arrive normalised. A taken
// email is refused before the password is hashed, which is most of a
// sign-up's cost.
func (s *UserService) SignUp(ctx context.Context, email, name, password string) (User, error) {
	taken, err := s.users.EmailTaken(ctx, email)
	if err != nil {
		return User{}, fmt.Errorf("sign up: %w", err)
	}
	if taken {
		return User{}, &ConflictError{Resource: "user", Field: "email"}
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return User{}, fmt.Errorf("sign up: %w", err)
	}
	u, err := s.users.Create(ctx, NewUser{Email: email, Name: name, PasswordHash: hash})
	if err != nil {
		return User{}, fmt.Errorf("sign up: %w", err)
	}
	return u, nil
}

func (s *UserService) Get(ctx context.Context, id int64) (User, error) {
	u, err := s.users.Get(ctx, id)
	if err != nil {
		return User{}, fmt.Errorf("get user %d: %w", id, err)
	}
	return u, nil
}

func (s *UserService) List(ctx context.Context, f UserFilter, p Page) (PageOf[User], error) {
	page, err := s.users.List(ctx, f, p)
	if err != nil {
		return PageOf[User]{}, fmt.Errorf("list users: %w", err)
	}
	return page, nil
}

// Update changes the caller's own account; anyone else's is forbidden,
// whether or not it exists, so ids cannot be probed.
func (s *UserService) Update(ctx context.Context, caller Caller, id int64, c UserChanges) (User, error) {
	if caller.UserID != id {
		return User{}, ErrForbidden
	}
	u, err := s.users.Update(ctx, id, c)
	if errors.Is(err, ErrNotFound) {
		err = ErrUnauthenticated // the caller was deleted after authenticating
	}
	if err != nil {
		return User{}, fmt.Errorf("update user %d: %w", id, err)
	}
	return u, nil
}

// Delete removes the caller's own account and everything it owns, atomically.
func (s *UserService) Delete(ctx context.Context, caller Caller, id int64) error {
	if caller.UserID != id {
		return ErrForbidden
	}
	err := s.tx.ExecTx(ctx, func(ctx context.Context) error {
		if err := s.users.LockForDelete(ctx, id); err != nil {
			return err
		}
		if err := s.items.DeleteByOwner(ctx, id); err != nil {
			return err
		}
		return s.users.Delete(ctx, id)
	})
	if errors.Is(err, ErrNotFound) {
		err = ErrUnauthenticated // the caller was deleted after authenticating
	}
	if err != nil {
		return fmt.Errorf("delete user %d: %w", id, err)
	}
	return nil
}
