package services_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"

	"github.com/example/apitemplate/services"
)

// fakeItems is a services.ItemStore over a map of item id to owner id. Its
// *Owned methods behave like the SQL ones: ErrNotFound unless the item exists
// and belongs to the given owner.
type fakeItems struct {
	owners map[int64]int64
	fail   map[string]error
	log    opLog
}

func (f *fakeItems) Create(_ context.Context, it services.NewItem) (services.Item, error) {
	f.log.add("Create")
	return services.Item{ID: 100, Name: it.Name, OwnerID: it.OwnerID}, f.fail["Create"]
}

func (f *fakeItems) Get(_ context.Context, id int64) (services.Item, error) {
	f.log.add("Get %d", id)
	owner, ok := f.owners[id]
	if !ok {
		return services.Item{}, services.ErrNotFound
	}
	return services.Item{ID: id, OwnerID: owner}, nil
}

func (f *fakeItems) List(_ context.Context, _ services.ItemFilter, _ services.Page) (services.PageOf[services.Item], error) {
	f.log.add("List")
	return services.PageOf[services.Item]{}, f.fail["List"]
}

func (f *fakeItems) owned(id, ownerID int64) bool {
	owner, ok := f.owners[id]
	return ok && owner == ownerID
}

func (f *fakeItems) UpdateOwned(_ context.Context, id, ownerID int64, _ services.ItemChanges) (services.Item, error) {
	f.log.add("UpdateOwned %d", id)
	if err := f.fail["UpdateOwned"]; err != nil {
		return services.Item{}, err
	}
	if !f.owned(id, ownerID) {
		return services.Item{}, services.ErrNotFound
	}
	return services.Item{ID: id, OwnerID: ownerID}, nil
}

func (f *fakeItems) DeleteOwned(_ context.Context, id, ownerID int64) error {
	f.log.add("DeleteOwned %d", id)
	if err := f.fail["DeleteOwned"]; err != nil {
		return err
	}
	if !f.owned(id, ownerID) {
		return services.ErrNotFound
	}
	delete(f.owners, id)
	return nil
}

func (f *fakeItems) Owner(_ context.Context, id int64) (int64, error) {
	f.log.add("Owner %d", id)
	if err := f.fail["Owner"]; err != nil {
		return 0, err
	}
	owner, ok := f.owners[id]
	if !ok {
		return 0, services.ErrNotFound
	}
	return owner, nil
}

func TestItemServiceOwnership(t *testing.T) {
	const caller, other = 1, 2
	const mine, theirs, missing = 10, 20, 30
	price := int64(500)

	methods := []struct {
		name string
		op   string // the store's owned-row method
		call func(s *services.ItemService, id int64) error
	}{
		{"update", "UpdateOwned", func(s *services.ItemService, id int64) error {
			it, err := s.Update(context.Background(), services.Caller{UserID: caller}, id, services.ItemChanges{PriceCents: &price})
			if err == nil && it.ID != id {
				return errors.New("Update returned another item")
			}
			return err
		}},
		{"delete", "DeleteOwned", func(s *services.ItemService, id int64) error {
			return s.Delete(context.Background(), services.Caller{UserID: caller}, id)
		}},
	}
	cases := []struct {
		name    string
		id      int64
		fail    map[string]error
		wantErr error // nil: success
		notErr  error
		// owner: whether the service had to ask who owns the item
		owner bool
	}{
		// The common case costs one statement.
		{name: "own item", id: mine},
		{name: "another user's item", id: theirs, wantErr: services.ErrForbidden, notErr: services.ErrNotFound, owner: true},
		// 404 is decided before 403: a missing item is not forbidden.
		{name: "missing item", id: missing, wantErr: services.ErrNotFound, notErr: services.ErrForbidden, owner: true},
		{name: "owned-row statement fails", id: theirs, fail: map[string]error{"UpdateOwned": errStore, "DeleteOwned": errStore}, wantErr: errStore},
		{name: "owner lookup fails", id: theirs, fail: map[string]error{"Owner": errStore}, wantErr: errStore, notErr: services.ErrForbidden, owner: true},
	}
	for _, m := range methods {
		for _, tt := range cases {
			t.Run(m.name+"/"+tt.name, func(t *testing.T) {
				store := &fakeItems{owners: map[int64]int64{mine: caller, theirs: other}, fail: tt.fail}
				err := m.call(services.NewItemService(store), tt.id)
				if tt.wantErr == nil {
					if err != nil {
						t.Fatalf("err = %v, want success", err)
					}
				} else if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if tt.notErr != nil && errors.Is(err, tt.notErr) {
					t.Fatalf("err = %v, must not match %v", err, tt.notErr)
				}
				wantOps := []string{m.op + " " + strconv.FormatInt(tt.id, 10)}
				if tt.owner {
					wantOps = append(wantOps, "Owner "+strconv.FormatInt(tt.id, 10))
				}
				if !slices.Equal(store.log.ops, wantOps) {
					t.Fatalf("store calls = %q, want %q", store.log.ops, wantOps)
				}
			})
		}
	}
}
