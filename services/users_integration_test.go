package services_test

import (
	"context"
	"errors"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/jmoiron/sqlx"

	"github.com/example/apitemplate/internal/apitest"
	"github.com/example/apitemplate/repositories"
	"github.com/example/apitemplate/services"
)

var errUserDelete = errors.New("user delete failed")

// usersFailingDelete is the real user repository except that deleting the
// user fails, after the items have already been deleted. It counts, inside
// the failing call, the items the user still has as the transaction sees it.
type usersFailingDelete struct {
	*repositories.UserRepository
	items          *repositories.ItemRepository
	itemsAtFailure int64
}

func (u *usersFailingDelete) Delete(ctx context.Context, id int64) error {
	page, err := u.items.List(ctx, services.ItemFilter{OwnerID: &id}, services.Page{Limit: 1, Sort: services.Sort{Field: "id"}})
	if err != nil {
		return err
	}
	u.itemsAtFailure = page.Total
	return errUserDelete
}

func TestUserServiceDeleteIsAtomicInTheDatabase(t *testing.T) {
	tests := []struct {
		name string
		// run calls fn with the context a caller of the service would have.
		run func(data *repositories.Data, fn func(ctx context.Context))
	}{
		{"outside a request", func(_ *repositories.Data, fn func(ctx context.Context)) { fn(context.Background()) }},
		{"in a request's session", func(data *repositories.Data, fn func(ctx context.Context)) {
			session, end := repositories.NewSession(data, nil)
			defer end()
			fn(session.Context(context.Background()))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := sqlx.Open("pgx", apitest.NewDatabase(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			ctx := context.Background()
			db.SetMaxOpenConns(4)
			data := repositories.NewData(db, 5*time.Second)
			itemRepo := repositories.NewItemRepository(data)
			users := &usersFailingDelete{UserRepository: repositories.NewUserRepository(data), items: itemRepo, itemsAtFailure: -1}

			ann, err := users.Create(ctx, services.NewUser{Email: "ann@example.com", Name: "Ann", PasswordHash: "x"})
			if err != nil {
				t.Fatal(err)
			}
			const owned = 3
			for range owned {
				if _, err := itemRepo.Create(ctx, services.NewItem{Name: "lamp", PriceCents: 100, OwnerID: ann.ID}); err != nil {
					t.Fatal(err)
				}
			}

			svc := services.NewUserService(users, itemRepo, data, testHasher())
			tt.run(data, func(ctx context.Context) {
				if err := svc.Delete(ctx, services.Caller{UserID: ann.ID}, ann.ID, nil); !errors.Is(err, errUserDelete) {
					t.Errorf("Delete = %v, want the user deletion's error", err)
				}
			})

			if users.itemsAtFailure != 0 {
				t.Fatalf("inside the transaction the user still had %d items when the user deletion failed; the test needs them deleted by then", users.itemsAtFailure)
			}
			page, err := itemRepo.List(ctx, services.ItemFilter{OwnerID: &ann.ID}, services.Page{Limit: 10, Sort: services.Sort{Field: "id"}})
			if err != nil {
				t.Fatal(err)
			}
			n := page.Total
			if n != owned {
				t.Fatalf("after the failed delete the user has %d items, want all %d back", n, owned)
			}
			if _, err := users.Get(ctx, ann.ID); err != nil {
				t.Fatalf("after the failed delete: Get user = %v", err)
			}
			if inUse := db.Stats().InUse; inUse != 0 {
				t.Fatalf("%d connections still in use", inUse)
			}
		})
	}
}
