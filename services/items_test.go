package services_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"

	"github.com/example/apitemplate/services"
)

// fakeItems is a services.ItemStore over maps of item id to owner id and
// version. Update and Delete behave like the SQL: ErrNotFound unless the
// item exists and meets the write's condition.
type fakeItems struct {
	owners   map[int64]int64
	versions map[int64]int64
	fail     map[string]error
	log      opLog
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

// meets reports whether item id exists and meets w, as the SQL decides it.
func (f *fakeItems) meets(id int64, w services.WriteCondition) bool {
	owner, ok := f.owners[id]
	version := f.versions[id]
	return ok && (w.OwnerID == nil || owner == *w.OwnerID) && (w.Versions == nil || slices.Contains(w.Versions, version))
}

func (f *fakeItems) Update(_ context.Context, id int64, _ services.ItemChanges, w services.WriteCondition) (services.Item, error) {
	f.log.add("Update %d", id)
	if err := f.fail["Update"]; err != nil {
		return services.Item{}, err
	}
	if !f.meets(id, w) {
		return services.Item{}, services.ErrNotFound
	}
	f.versions[id]++
	return services.Item{ID: id, OwnerID: f.owners[id], Version: f.versions[id]}, nil
}

func (f *fakeItems) Delete(_ context.Context, id int64, w services.WriteCondition) error {
	f.log.add("Delete %d", id)
	if err := f.fail["Delete"]; err != nil {
		return err
	}
	if !f.meets(id, w) {
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

func TestItemServiceWriteRules(t *testing.T) {
	const caller, other = 1, 2
	const mine, theirs, missing = 10, 20, 30
	price := int64(500)
	user := services.Caller{UserID: caller, Role: services.RoleUser}
	admin := services.Caller{UserID: caller, Role: services.RoleAdmin}

	methods := []struct {
		name string
		op   string // the store's conditional write
		call func(s *services.ItemService, caller services.Caller, id int64, v services.Versions) error
	}{
		{"update", "Update", func(s *services.ItemService, caller services.Caller, id int64, v services.Versions) error {
			it, err := s.Update(context.Background(), caller, id, services.ItemChanges{PriceCents: &price}, v)
			if err == nil && it.ID != id {
				return errors.New("Update returned another item")
			}
			return err
		}},
		{"delete", "Delete", func(s *services.ItemService, caller services.Caller, id int64, v services.Versions) error {
			return s.Delete(context.Background(), caller, id, v)
		}},
	}
	cases := []struct {
		name     string
		caller   services.Caller
		id       int64
		versions services.Versions
		fail     map[string]error
		wantErr  error // nil: success
		notErr   error
		// owner: whether the service had to ask who owns the item
		owner bool
	}{
		// The common case costs one statement.
		{name: "own item", caller: user, id: mine},
		{name: "own item at its version", caller: user, id: mine, versions: services.Versions{3}},
		{name: "another user's item", caller: user, id: theirs, wantErr: services.ErrForbidden, notErr: services.ErrNotFound, owner: true},
		{name: "another user's item, by an admin", caller: admin, id: theirs},
		// 404 before 403 before 412.
		{name: "missing item", caller: user, id: missing, wantErr: services.ErrNotFound, notErr: services.ErrForbidden, owner: true},
		{name: "missing item, by an admin", caller: admin, id: missing, wantErr: services.ErrNotFound, owner: true},
		{name: "missing item with a version", caller: user, id: missing, versions: services.Versions{1}, wantErr: services.ErrNotFound, owner: true},
		{name: "another user's item with a stale version", caller: user, id: theirs, versions: services.Versions{1}, wantErr: services.ErrForbidden, owner: true},
		{name: "own item changed since", caller: user, id: mine, versions: services.Versions{1, 2}, wantErr: services.ErrPreconditionFailed, notErr: services.ErrNotFound, owner: true},
		{name: "an admin with a stale version", caller: admin, id: theirs, versions: services.Versions{}, wantErr: services.ErrPreconditionFailed, owner: true},
		{name: "conditional write fails", caller: user, id: theirs, fail: map[string]error{"Update": errStore, "Delete": errStore}, wantErr: errStore},
		{name: "owner lookup fails", caller: user, id: theirs, fail: map[string]error{"Owner": errStore}, wantErr: errStore, notErr: services.ErrForbidden, owner: true},
	}
	for _, m := range methods {
		for _, tt := range cases {
			t.Run(m.name+"/"+tt.name, func(t *testing.T) {
				store := &fakeItems{owners: map[int64]int64{mine: caller, theirs: other}, versions: map[int64]int64{mine: 3, theirs: 3}, fail: tt.fail}
				err := m.call(services.NewItemService(store), tt.caller, tt.id, tt.versions)
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
