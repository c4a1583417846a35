package repositories_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/jmoiron/sqlx"

	"github.com/example/apitemplate/internal/apitest"
	"github.com/example/apitemplate/repositories"
	"github.com/example/apitemplate/services"
)

var errFn = errors.New("fn failed")

// store is a pool on a fresh database with the repositories over it.
type store struct {
	db    *sqlx.DB
	data  *repositories.Data
	users *repositories.UserRepository
	items *repositories.ItemRepository
}

// newStore opens a pool of conns connections on a fresh database.
func newStore(t *testing.T, conns int, timeout time.Duration) store {
	t.Helper()
	db, err := sqlx.Open("pgx", apitest.NewDatabase(t))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	db.SetMaxOpenConns(conns)
	data := repositories.NewData(db, timeout)
	return store{db: db, data: data, users: repositories.NewUserRepository(data), items: repositories.NewItemRepository(data)}
}

// count returns the committed rows of table, read on a connection of its own.
func (s store) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := s.db.GetContext(context.Background(), &n, "SELECT count(*) FROM "+table); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// wantRows fails unless users and items hold the given numbers of rows and
// every connection is back in the pool.
func (s store) wantRows(t *testing.T, users, items int) {
	t.Helper()
	if u, i := s.count(t, "users"), s.count(t, "items"); u != users || i != items {
		t.Fatalf("committed rows: %d users, %d items; want %d users, %d items", u, i, users, items)
	}
	if n := s.db.Stats().InUse; n != 0 {
		t.Fatalf("%d connections still in use, want 0", n)
	}
}

// writeUserAndItem inserts a user and an item of theirs.
func (s store) writeUserAndItem(ctx context.Context, email string) error {
	u, err := s.users.Create(ctx, services.NewUser{Email: email, Name: "Ann", PasswordHash: "x"})
	if err != nil {
		return err
	}
	_, err = s.items.Create(ctx, services.NewItem{Name: "lamp", PriceCents: 100, OwnerID: u.ID})
	return err
}

func TestExecTxEndings(t *testing.T) {
	tests := []struct {
		name      string
		fn        func(ctx context.Context, s store) error
		wantErr   error
		wantPanic any
		wantRows  int
	}{
		{"commits", func(ctx context.Context, s store) error { return s.writeUserAndItem(ctx, "ann@example.com") }, nil, nil, 1},
		{"rolls back when fn fails", func(ctx context.Context, s store) error {
			if err := s.writeUserAndItem(ctx, "ann@example.com"); err != nil {
				return err
			}
			return errFn
		}, errFn, nil, 0},
		{"rolls back when fn panics", func(ctx context.Context, s store) error {
			if err := s.writeUserAndItem(ctx, "ann@example.com"); err != nil {
				return err
			}
			panic("boom")
		}, nil, "boom", 0},
		{"a nested call joins, and only the outermost commits", func(ctx context.Context, s store) error {
			if err := s.data.ExecTx(ctx, func(ctx context.Context) error { return s.writeUserAndItem(ctx, "ann@example.com") }); err != nil {
				return err
			}
			if n := s.count(t, "users"); n != 0 {
				return fmt.Errorf("the inner call committed: %d users visible outside", n)
			}
			return nil
		}, nil, nil, 1},
		{"a failing nested call fails the whole", func(ctx context.Context, s store) error {
			if err := s.writeUserAndItem(ctx, "ann@example.com"); err != nil {
				return err
			}
			return s.data.ExecTx(ctx, func(context.Context) error { return errFn })
		}, errFn, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, 4, 5*time.Second)
			var err error
			panicked := func() (p any) {
				defer func() { p = recover() }()
				err = s.data.ExecTx(context.Background(), func(ctx context.Context) error { return tt.fn(ctx, s) })
				return nil
			}()
			if panicked != tt.wantPanic || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("ExecTx = %v, panic %v; want %v, panic %v", err, panicked, tt.wantErr, tt.wantPanic)
			}
			s.wantRows(t, tt.wantRows, tt.wantRows)
		})
	}
}

func TestExecTxStatementsUseTheTransaction(t *testing.T) {
	s := newStore(t, 4, 5*time.Second)
	err := s.data.ExecTx(context.Background(), func(ctx context.Context) error {
		u, err := s.users.Create(ctx, services.NewUser{Email: "ann@example.com", Name: "Ann", PasswordHash: "x"})
		if err != nil {
			return err
		}
		// A read with ctx sees the uncommitted row; one without does not.
		if _, err := s.users.Get(ctx, u.ID); err != nil {
			return fmt.Errorf("read inside the transaction: %w", err)
		}
		if _, err := s.users.Get(context.Background(), u.ID); !errors.Is(err, services.ErrNotFound) {
			t.Errorf("read outside the transaction before the commit = %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.wantRows(t, 1, 0)
}

// holdConnection runs a transaction that keeps the pool's only connection
// until release is closed. It returns once the transaction is open.
func holdConnection(t *testing.T, s store) (release chan<- struct{}, done <-chan error) {
	t.Helper()
	opened, rel, finished := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		finished <- s.data.ExecTx(context.Background(), func(context.Context) error {
			close(opened)
			<-rel
			return nil
		})
	}()
	select {
	case <-opened:
	case err := <-finished:
		t.Fatalf("the holding transaction did not open: %v", err)
	}
	return rel, finished
}

// Statements that find every connection busy get one in the order they
// asked, whether or not they come from a request. database/sql alone picks
// a waiter at random, which here would put five waiters in order one time
// in 120.
func TestQueueAdmitsInArrivalOrder(t *testing.T) {
	s := newStore(t, 1, 30*time.Second)
	release, held := holdConnection(t, s)

	const waiters = 5
	done := make(chan error, waiters)
	for i := range waiters {
		go func() {
			// The id comes from a sequence while the waiter holds the only
			// connection, so the ids record the order of admission.
			_, err := s.users.Create(context.Background(), services.NewUser{
				Email: fmt.Sprintf("waiter%d@example.com", i), Name: "W", PasswordHash: "x",
			})
			done <- err
		}()
		// Nothing shows that a goroutine has joined the queue, so each is
		// given ample time to join it before the next one starts.
		time.Sleep(50 * time.Millisecond)
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatalf("holding transaction: %v", err)
	}
	for range waiters {
		if err := <-done; err != nil {
			t.Fatalf("waiter: %v", err)
		}
	}
	var admitted []string
	if err := s.db.SelectContext(context.Background(), &admitted, "SELECT email FROM users ORDER BY id"); err != nil {
		t.Fatal(err)
	}
	for i, email := range admitted {
		if want := fmt.Sprintf("waiter%d@example.com", i); email != want {
			t.Fatalf("admitted in the order %v, want arrival order (waiter0 first)", admitted)
		}
	}
	if n, _ := s.data.Waits(); n != waiters {
		t.Errorf("Waits() = %d, want %d", n, waiters)
	}
	if n := s.db.Stats().WaitCount; n != 0 {
		t.Errorf("database/sql made %d statements wait; the queue should have held them all", n)
	}
}

// A statement that cannot get a connection before its deadline is
// ErrUnavailable, and the queue keeps no place for it.
func TestQueueWaitEndsAtTheDeadline(t *testing.T) {
	s := newStore(t, 1, 30*time.Second)
	release, held := holdConnection(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := s.users.Get(ctx, 1); !errors.Is(err, services.ErrUnavailable) {
		t.Fatalf("Get while the only connection is held = %v, want ErrUnavailable", err)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("gave up after %s, want about the 100ms deadline", waited)
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatalf("holding transaction: %v", err)
	}
	if _, err := s.users.Get(context.Background(), 1); !errors.Is(err, services.ErrNotFound) {
		t.Fatalf("Get once the connection is free = %v, want ErrNotFound", err)
	}
}

// A session's budget is spent only by time on the database: time the
// request spends elsewhere between statements does not count.
func TestSessionCountsOnlyTimeOnTheDatabase(t *testing.T) {
	s := newStore(t, 2, 300*time.Millisecond)
	var observed observedSessions
	session, end := repositories.NewSession(s.data, &observed)
	ctx := session.Context(context.Background())
	for range 3 {
		if _, err := s.users.EmailTaken(ctx, "ann@example.com"); err != nil {
			t.Fatalf("statement: %v", err)
		}
		time.Sleep(150 * time.Millisecond) // more than the budget, in all
	}
	statements, spent := session.Usage()
	if statements != 3 || spent <= 0 || spent >= 300*time.Millisecond {
		t.Fatalf("Usage() = %d statements, %s; want 3 and some of the budget", statements, spent)
	}

	// A statement that outlasts what is left fails as unavailable.
	err := s.data.ExecTx(ctx, func(ctx context.Context) error {
		_, err := s.data.DB(ctx).ExecContext(ctx, "SELECT pg_sleep(1)")
		return err
	})
	if !errors.Is(err, services.ErrUnavailable) {
		t.Fatalf("a statement longer than the budget = %v, want ErrUnavailable", err)
	}
	if _, spent := session.Usage(); spent < 300*time.Millisecond || spent > 2*time.Second {
		t.Fatalf("spent %s, want the whole budget and little more", spent)
	}
	if _, err := s.users.EmailTaken(ctx, "ann@example.com"); !errors.Is(err, services.ErrUnavailable) {
		t.Fatalf("a statement after the budget is spent = %v, want ErrUnavailable", err)
	}
	if _, err := s.users.EmailTaken(context.Background(), "ann@example.com"); err != nil {
		t.Fatalf("outside the session: %v", err)
	}
	end()
	if n, spent := session.Usage(); len(observed) != 1 || observed[0].statements != n || observed[0].spent != spent {
		t.Fatalf("the session's end told %+v, want its usage once", observed)
	}
}

// observedSessions is a repositories.SessionObserver that keeps what it is told.
type observedSessions []struct {
	statements int64
	spent      time.Duration
}

func (o *observedSessions) ObserveSession(statements int64, spent time.Duration) {
	*o = append(*o, struct {
		statements int64
		spent      time.Duration
	}{statements, spent})
}

// A database that cannot be reached is ErrUnavailable, whatever the driver
// calls it.
func TestUnreachableDatabaseIsUnavailable(t *testing.T) {
	db, err := sqlx.Open("pgx", "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	data := repositories.NewData(db, 5*time.Second)
	users := repositories.NewUserRepository(data)
	if _, err := users.Get(context.Background(), 1); !errors.Is(err, services.ErrUnavailable) {
		t.Errorf("Get = %v, want ErrUnavailable", err)
	}
	if err := data.ExecTx(context.Background(), func(context.Context) error { return nil }); !errors.Is(err, services.ErrUnavailable) {
		t.Errorf("ExecTx = %v, want ErrUnavailable", err)
	}
	if err := data.Ping(context.Background()); !errors.Is(err, services.ErrUnavailable) {
		t.Errorf("Ping = %v, want ErrUnavailable", err)
	}
}

func TestReadsOpenNoTransaction(t *testing.T) {
	s := newStore(t, 4, 5*time.Second)
	ctx := context.Background()
	if err := s.writeUserAndItem(ctx, "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	users, err := s.users.List(ctx, services.UserFilter{}, services.Page{Limit: 10, Sort: services.Sort{Field: "id"}})
	if err != nil || users.Total != 1 {
		t.Fatalf("List users = %+v, %v", users, err)
	}
	if _, err := s.users.Get(ctx, users.Items[0].ID); err != nil {
		t.Fatalf("Get user: %v", err)
	}
	var open int
	err = s.db.GetContext(ctx, &open, `
		SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND state LIKE 'idle in transaction%'`)
	if err != nil {
		t.Fatal(err)
	}
	if open != 0 {
		t.Fatalf("%d sessions are idle in a transaction after plain reads", open)
	}
	s.wantRows(t, 1, 1)
}

func TestUserEmailConflict(t *testing.T) {
	tests := []struct {
		name  string
		write func(ctx context.Context, s store) error
	}{
		{"create with the same email", func(ctx context.Context, s store) error {
			_, err := s.users.Create(ctx, services.NewUser{Email: "ann@example.com", Name: "Ann 2", PasswordHash: "x"})
			return err
		}},
		{"create with the email in another case", func(ctx context.Context, s store) error {
			_, err := s.users.Create(ctx, services.NewUser{Email: "ANN@Example.COM", Name: "Ann 2", PasswordHash: "x"})
			return err
		}},
		{"update to the email in another case", func(ctx context.Context, s store) error {
			bob, err := s.users.Create(ctx, services.NewUser{Email: "bob@example.com", Name: "Bob", PasswordHash: "x"})
			if err != nil {
				return fmt.Errorf("create bob: %w", err)
			}
			email := "Ann@Example.com"
			_, err = s.users.Update(ctx, bob.ID, services.UserChanges{Email: &email}, nil)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, 4, 5*time.Second)
			ctx := context.Background()
			if _, err := s.users.Create(ctx, services.NewUser{Email: "ann@example.com", Name: "Ann", PasswordHash: "x"}); err != nil {
				t.Fatal(err)
			}
			taken, err := s.users.EmailTaken(ctx, "ann@example.com")
			if err != nil || !taken {
				t.Fatalf("EmailTaken = %v, %v; want true", taken, err)
			}
			err = tt.write(ctx, s)
			var conflict *services.ConflictError
			if !errors.As(err, &conflict) || *conflict != (services.ConflictError{Resource: "user", Field: "email"}) {
				t.Fatalf("err = %v, want ConflictError{user, email}", err)
			}
		})
	}
}

func TestMissingRowsAreNotFound(t *testing.T) {
	const missing = 999
	name := "x"
	tests := []struct {
		name string
		call func(ctx context.Context, s store) error
	}{
		{"get user", func(ctx context.Context, s store) error { _, err := s.users.Get(ctx, missing); return err }},
		{"update user", func(ctx context.Context, s store) error {
			_, err := s.users.Update(ctx, missing, services.UserChanges{Name: &name}, nil)
			return err
		}},
		{"lock user", func(ctx context.Context, s store) error {
			return s.data.ExecTx(ctx, func(ctx context.Context) error {
				_, err := s.users.LockForDelete(ctx, missing)
				return err
			})
		}},
		{"delete user", func(ctx context.Context, s store) error { return s.users.Delete(ctx, missing) }},
		{"credentials", func(ctx context.Context, s store) error {
			_, err := s.users.Credentials(ctx, "nobody@example.com")
			return err
		}},
		{"get item", func(ctx context.Context, s store) error { _, err := s.items.Get(ctx, missing); return err }},
		{"item owner", func(ctx context.Context, s store) error { _, err := s.items.Owner(ctx, missing); return err }},
		{"update item", func(ctx context.Context, s store) error {
			_, err := s.items.Update(ctx, missing, services.ItemChanges{Name: &name}, services.WriteCondition{})
			return err
		}},
		{"delete item", func(ctx context.Context, s store) error {
			return s.items.Delete(ctx, missing, services.WriteCondition{})
		}},
		{"identity", func(ctx context.Context, s store) error { _, err := s.users.Identity(ctx, missing); return err }},
		{"set role", func(ctx context.Context, s store) error {
			return s.users.SetRole(ctx, "nobody@example.com", services.RoleAdmin)
		}},
	}
	s := newStore(t, 4, 5*time.Second)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(context.Background(), s); !errors.Is(err, services.ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
		})
	}
}
