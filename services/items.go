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

// ItemStore persists items. The *Owned methods touch a row only when it
// belongs to ownerID and report ErrNotFound otherwise, so the common case
// costs one statement.
type ItemStore interface {
	Create(ctx context.Context, it NewItem) (Item, error)
	Get(ctx context.Context, id int64) (Item, error)
	List(ctx context.Context, f ItemFilter, p Page) (PageOf[Item], error)
	UpdateOwned(ctx context.Context, id, ownerID int64, c ItemChanges) (Item, error)
	DeleteOwned(ctx context.Context, id, ownerID int64) error
	Owner(ctx context.Context, id int64) (int64, error)
}

// ItemService holds the rules for items.
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

// Update changes an item the caller owns. A missing item is ErrNotFound even
// for a caller who could not have changed it: 404 is decided before 403.
func (s *ItemService) Update(ctx context.Context, caller Caller, id int64, c ItemChanges) (Item, error) {
	it, err := s.items.UpdateOwned(ctx, id, caller.UserID, c)
	if errors.Is(err, ErrNotFound) {
		err = s.whyNotOwned(ctx, id)
	}
	if err != nil {
		return Item{}, fmt.Errorf("update item %d: %w", id, err)
	}
	return it, nil
}

// Delete removes an item the caller owns, with the same 404-before-403 rule.
func (s *ItemService) Delete(ctx context.Context, caller Caller, id int64) error {
	err := s.items.DeleteOwned(ctx, id, caller.UserID)
	if errors.Is(err, ErrNotFound) {
		err = s.whyNotOwned(ctx, id)
	}
	if err != nil {
		return fmt.Errorf("delete item %d: %w", id, err)
	}
	return nil
}

// whyNotOwned tells apart the two reasons an owned-row statement matched
// nothing: the item does not exist, or someone else owns it.
func (s *ItemService) whyNotOwned(ctx context.Context, id int64) error {
	if _, err := s.items.Owner(ctx, id); err != nil {
		return err
	}
	return ErrForbidden
}
