package services_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/example/apitemplate/services"
)

// errStore stands for any failure of the database that is not a domain error.
var errStore = errors.New("store failed")

// fakeTx is a services.Transactor that runs fn in place and remembers whether
// a call is in progress, so fake stores can record which of their calls ran
// inside it.
type fakeTx struct {
	calls int
	inTx  bool
}

func (f *fakeTx) ExecTx(ctx context.Context, fn func(ctx context.Context) error) error {
	f.calls++
	f.inTx = true
	defer func() { f.inTx = false }()
	return fn(ctx)
}

// opLog records the store calls a test made, in order, marking those made
// inside fakeTx.ExecTx with " (tx)".
type opLog struct {
	tx  *fakeTx
	ops []string
}

func (l *opLog) add(format string, args ...any) {
	op := fmt.Sprintf(format, args...)
	if l.tx != nil && l.tx.inTx {
		op += " (tx)"
	}
	l.ops = append(l.ops, op)
}

// fakeUsers is a services.UserStore and services.OwnedItemsDeleter whose
// methods fail with fail[name] when it is set.
type fakeUsers struct {
	log   *opLog
	fail  map[string]error
	taken map[string]bool
}

func (f *fakeUsers) EmailTaken(_ context.Context, email string) (bool, error) {
	f.log.add("EmailTaken %s", email)
	return f.taken[email], f.fail["EmailTaken"]
}

func (f *fakeUsers) Create(_ context.Context, u services.NewUser) (services.User, error) {
	f.log.add("Create %s", u.Email)
	if err := f.fail["Create"]; err != nil {
		return services.User{}, err
	}
	return services.User{ID: 1, Email: u.Email, Name: u.Name}, nil
}

func (f *fakeUsers) Get(_ context.Context, id int64) (services.User, error) {
	f.log.add("Get %d", id)
	if err := f.fail["Get"]; err != nil {
		return services.User{}, err
	}
	return services.User{ID: id}, nil
}

func (f *fakeUsers) List(_ context.Context, _ services.UserFilter, _ services.Page) (services.PageOf[services.User], error) {
	f.log.add("List")
	return services.PageOf[services.User]{}, f.fail["List"]
}

func (f *fakeUsers) Update(_ context.Context, id int64, c services.UserChanges, _ services.Versions) (services.User, error) {
	f.log.add("Update %d", id)
	if err := f.fail["Update"]; err != nil {
		return services.User{}, err
	}
	u := services.User{ID: id}
	if c.Name != nil {
		u.Name = *c.Name
	}
	return u, nil
}

func (f *fakeUsers) LockForDelete(_ context.Context, id int64) (int64, error) {
	f.log.add("LockForDelete %d", id)
	return 1, f.fail["LockForDelete"]
}

func (f *fakeUsers) SetRole(_ context.Context, email string, role services.Role) error {
	f.log.add("SetRole %s %s", email, role)
	return f.fail["SetRole"]
}

func (f *fakeUsers) Delete(_ context.Context, id int64) error {
	f.log.add("Delete %d", id)
	return f.fail["Delete"]
}

func (f *fakeUsers) DeleteByOwner(_ context.Context, ownerID int64) error {
	f.log.add("DeleteByOwner %d", ownerID)
	return f.fail["DeleteByOwner"]
}

// testHasher hashes at bcrypt's lowest cost, so tests stay fast.
func testHasher() *services.PasswordHasher {
	return services.NewPasswordHasher(services.AuthConfig{BcryptCost: 4, HashWorkers: 2, HashQueueTimeout: time.Second})
}

func newUserService(fail map[string]error) (*services.UserService, *opLog, *fakeTx) {
	tx := &fakeTx{}
	log := &opLog{tx: tx}
	store := &fakeUsers{log: log, fail: fail}
	return services.NewUserService(store, store, tx, testHasher()), log, tx
}

func TestUserServiceRefusesAnotherAccount(t *testing.T) {
	name := "Mallory"
	tests := []struct {
		name string
		call func(s *services.UserService) error
	}{
		{"update", func(s *services.UserService) error {
			_, err := s.Update(context.Background(), services.Caller{UserID: 1}, 2, services.UserChanges{Name: &name}, nil)
			return err
		}},
		{"delete", func(s *services.UserService) error {
			return s.Delete(context.Background(), services.Caller{UserID: 1}, 2, nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, log, tx := newUserService(nil)
			if err := tt.call(svc); !errors.Is(err, services.ErrForbidden) {
				t.Fatalf("caller 1 on account 2: err = %v, want ErrForbidden", err)
			}
			if len(log.ops) != 0 || tx.calls != 0 {
				t.Fatalf("a forbidden call reached the store: ops %q, transactions %d", log.ops, tx.calls)
			}
		})
	}
}

// A taken email is refused before the password is hashed: the hash is
// most of a sign-up's cost, and nothing needs it then.
func TestUserServiceSignUpRefusesATakenEmailWithoutHashing(t *testing.T) {
	tx := &fakeTx{}
	log := &opLog{tx: tx}
	store := &fakeUsers{log: log, taken: map[string]bool{"ann@example.com": true}}
	hasher := testHasher()
	svc := services.NewUserService(store, store, tx, hasher)
	_, err := svc.SignUp(context.Background(), "ann@example.com", "Ann", "correct horse")
	var conflict *services.ConflictError
	if !errors.As(err, &conflict) || conflict.Field != "email" {
		t.Fatalf("SignUp with a taken email = %v, want a conflict on email", err)
	}
	if !slices.Equal(log.ops, []string{"EmailTaken ann@example.com"}) {
		t.Fatalf("store calls = %q, want only the email check", log.ops)
	}
	if n := hasher.Stats().Done; n != 0 {
		t.Fatalf("the password was hashed (%d hashes)", n)
	}

	u, err := svc.SignUp(context.Background(), "bob@example.com", "Bob", "correct horse")
	if err != nil || u.Email != "bob@example.com" || hasher.Stats().Done != 1 {
		t.Fatalf("SignUp with a free email = %+v, %v, %d hashes; want bob and one hash", u, err, hasher.Stats().Done)
	}
}

func TestUserServiceUpdate(t *testing.T) {
	name := "Ann"
	conflict := &services.ConflictError{Resource: "user", Field: "email"}
	admin := services.Caller{UserID: 1, Role: services.RoleAdmin}
	self := services.Caller{UserID: 7, Role: services.RoleUser}
	tests := []struct {
		name     string
		caller   services.Caller
		fail     map[string]error
		versions services.Versions
		wantOps  []string
		wantErr  error // nil: success
		notErr   error // an error the result must not match
	}{
		{name: "own account", caller: self, wantOps: []string{"Update 7"}},
		{name: "another account, by an admin", caller: admin, wantOps: []string{"Update 7"}},
		// The caller was deleted after the token was checked: that is a
		// stale identity (401), not a missing resource (404).
		{name: "own account gone", caller: self, fail: map[string]error{"Update": services.ErrNotFound, "Get": services.ErrNotFound},
			wantOps: []string{"Update 7", "Get 7"}, wantErr: services.ErrUnauthenticated, notErr: services.ErrNotFound},
		{name: "missing account, by an admin", caller: admin, fail: map[string]error{"Update": services.ErrNotFound, "Get": services.ErrNotFound},
			wantOps: []string{"Update 7", "Get 7"}, wantErr: services.ErrNotFound},
		// The account exists, so a write that matched nothing found another version.
		{name: "changed since", caller: self, versions: services.Versions{1}, fail: map[string]error{"Update": services.ErrNotFound},
			wantOps: []string{"Update 7", "Get 7"}, wantErr: services.ErrPreconditionFailed},
		{name: "conflict passes through", caller: self, fail: map[string]error{"Update": conflict}, wantOps: []string{"Update 7"}, wantErr: conflict},
		{name: "store failure passes through", caller: self, fail: map[string]error{"Update": errStore}, wantOps: []string{"Update 7"}, wantErr: errStore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, log, _ := newUserService(tt.fail)
			u, err := svc.Update(context.Background(), tt.caller, 7, services.UserChanges{Name: &name}, tt.versions)
			if !slices.Equal(log.ops, tt.wantOps) {
				t.Fatalf("store calls = %q, want %q", log.ops, tt.wantOps)
			}
			if tt.wantErr == nil {
				if err != nil || u.ID != 7 || u.Name != "Ann" {
					t.Fatalf("Update = %+v, %v; want user 7 named Ann", u, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.notErr != nil && errors.Is(err, tt.notErr) {
				t.Fatalf("err = %v, must not match %v", err, tt.notErr)
			}
		})
	}
}

func TestUserServiceDeleteIsOneTransaction(t *testing.T) {
	svc, log, tx := newUserService(nil)
	if err := svc.Delete(context.Background(), services.Caller{UserID: 7}, 7, nil); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	want := []string{"LockForDelete 7 (tx)", "DeleteByOwner 7 (tx)", "Delete 7 (tx)"}
	if !slices.Equal(log.ops, want) {
		t.Fatalf("store calls = %q, want %q", log.ops, want)
	}
	if tx.calls != 1 {
		t.Fatalf("WithinTx called %d times, want once", tx.calls)
	}
}

func TestUserServiceDeleteFailures(t *testing.T) {
	tests := []struct {
		name    string
		fail    map[string]error
		wantOps []string
		wantErr error
		notErr  error
	}{
		{
			name:    "own account gone before the lock",
			fail:    map[string]error{"LockForDelete": services.ErrNotFound},
			wantOps: []string{"LockForDelete 7 (tx)"},
			wantErr: services.ErrUnauthenticated, notErr: services.ErrNotFound,
		},
		{
			name:    "deleting the items fails",
			fail:    map[string]error{"DeleteByOwner": errStore},
			wantOps: []string{"LockForDelete 7 (tx)", "DeleteByOwner 7 (tx)"},
			wantErr: errStore,
		},
		{
			name:    "own account gone at the delete",
			fail:    map[string]error{"Delete": services.ErrNotFound},
			wantOps: []string{"LockForDelete 7 (tx)", "DeleteByOwner 7 (tx)", "Delete 7 (tx)"},
			wantErr: services.ErrUnauthenticated, notErr: services.ErrNotFound,
		},
		{
			name:    "deleting the user fails",
			fail:    map[string]error{"Delete": errStore},
			wantOps: []string{"LockForDelete 7 (tx)", "DeleteByOwner 7 (tx)", "Delete 7 (tx)"},
			wantErr: errStore,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, log, _ := newUserService(tt.fail)
			err := svc.Delete(context.Background(), services.Caller{UserID: 7}, 7, nil)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.notErr != nil && errors.Is(err, tt.notErr) {
				t.Fatalf("err = %v, must not match %v", err, tt.notErr)
			}
			if !slices.Equal(log.ops, tt.wantOps) {
				t.Fatalf("store calls = %q, want %q", log.ops, tt.wantOps)
			}
		})
	}
}
