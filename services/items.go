package services

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Item is something a user offers.
type Item struct {
	ID          int64
	Name        string
	Description string
	PriceCents  int64
	OwnerID     int64
	Version     int64 // goes up by one with every change
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// NewItem is what creating an item stores.
type NewItem struct {
	Name        string
	Description string
	PriceCents  int64
	OwnerID     int64
}

// ItemChanges is a partial update: nil fields keep their value.
type ItemChanges struct {
	Name        *string
	Description *string
	PriceCents  *int64
}

// ItemFilter narrows a list; a nil field does not filter.
type ItemFilter struct {
	OwnerID       *int64
	MinPriceCents *int64
	MaxPriceCents *int64
	NameContains  *string // case-insensitively
}

// WriteCondition narrows a write to the row it may change: one owned by
// OwnerID, when set, and at one of Versions, when set.
type WriteCondition struct {
	OwnerID  *int64
	Versions Versions
}

// ItemStore persists items. Update and Delete touch the row only when it
// meets the condition, and report ErrNotFound otherwise, so that the common
// case costs one statement and a concurrent write cannot slip in between a
// check and the change.
type ItemStore interface {
	Create(ctx context.Context, it NewItem) (Item, error)
	Get(ctx context.Context, id int64) (Item, error)
	List(ctx context.Context, f ItemFilter, p Page) (PageOf[Item], error)
	Update(ctx context.Context, id int64, c ItemChanges, w WriteCondition) (Item, error)
	Delete(ctx context.Context, id int64, w WriteCondition) error
	Owner(ctx context.Context, id int64) (int64, error)
}

// ItemService holds the rules for items: anyone reads them, a signed-in
// user creates them, and their owner or an admin changes them.
type ItemService struct {
	items ItemStore
}

func NewItemService(items ItemStore) *ItemService {
	return &ItemService{items: items}
}

// Create adds an item owned by the caller.
func (s *ItemService) Create(ctx context.Context, caller Caller, it NewItem) (Item, error) {
	it.OwnerID = caller.UserID
	created, err := s.items.Create(ctx, it)
	if err != nil {
		return Item{}, fmt.Errorf("create item: %w", err)
	}
	return created, nil
}

func (s *ItemService) Get(ctx context.Context, id int64) (Item, error) {
	it, err := s.items.Get(ctx, id)
	if err != nil {
		return Item{}, fmt.Errorf("get item %d: %w", id, err)
	}
	return it, nil
}

func (s *ItemService) List(ctx context.Context, f ItemFilter, p Page) (PageOf[Item], error) {
	page, err := s.items.List(ctx, f, p)
	if err != nil {
		return PageOf[Item]{}, fmt.Errorf("list items: %w", err)
	}
	return page, nil
}

// Update changes an item the caller owns, or any item for an admin, if it
// is at one of versions. Why a write did not apply is told in this order:
// the item does not exist (ErrNotFound), is not the caller's
// (ErrForbidden), has changed (ErrPreconditionFailed).
func (s *ItemService) Update(ctx context.Context, caller Caller, id int64, c ItemChanges, versions Versions) (Item, error) {
	w := writeCondition(caller, versions)
	it, err := s.items.Update(ctx, id, c, w)
	if errors.Is(err, ErrNotFound) {
		err = s.whyNot(ctx, id, w)
	}
	if err != nil {
		return Item{}, fmt.Errorf("update item %d: %w", id, err)
	}
	return it, nil
}

// Delete removes an item by the same rules as Update.
func (s *ItemService) Delete(ctx context.Context, caller Caller, id int64, versions Versions) error {
	w := writeCondition(caller, versions)
	err := s.items.Delete(ctx, id, w)
	if errors.Is(err, ErrNotFound) {
		err = s.whyNot(ctx, id, w)
	}
	if err != nil {
		return fmt.Errorf("delete item %d: %w", id, err)
	}
	return nil
}

func writeCondition(caller Caller, versions Versions) WriteCondition {
	w := WriteCondition{Versions: versions}
	if !caller.IsAdmin() {
		w.OwnerID = &caller.UserID
	}
	return w
}

// whyNot tells apart the reasons a conditional write matched nothing.
func (s *ItemService) whyNot(ctx context.Context, id int64, w WriteCondition) error {
	owner, err := s.items.Owner(ctx, id)
	switch {
	case err != nil:
		return err
	case w.OwnerID != nil && owner != *w.OwnerID:
		return ErrForbidden
	}
	return ErrPreconditionFailed
}
