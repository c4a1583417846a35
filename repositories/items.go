package repositories

import (
	"context"
	"fmt"
	"time"


	"github.com/example/apitemplate/services"
)

type itemRow struct {
	ID          int64     `db:"id"`
	Name        string    `db:"name"`
	Description string    `db:"description"`
	PriceCents  int64     `db:"price_cents"`
	OwnerID     int64     `db:"owner_id"`
	CreatedAt   time.Time `db:"created_at"`
	UpdatedAt   time.Time `db:"updated_at"`
}

func (r itemRow) item() services.Item {
	return services.Item{
		ID: r.ID, Name: r.Name, Description: r.Description, PriceCents: r.PriceCents,
		OwnerID: r.OwnerID, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

const (
	itemColumns = `id, name, description, price_cents, owner_id, created_at, updated_at`

	insertItem = `
		INSERT INTO items (name, description, price_cents, owner_id)
		VALUES ($1, $2, $3, $4)
		RETURNING ` + itemColumns

	selectItem = `SELECT ` + itemColumns + ` FROM items WHERE id = $1`

	// A NULL owner filter matches every item, so one statement serves both.
	selectItemPage = `
		SELECT ` + itemColumns + ` FROM items
		WHERE $1::bigint IS NULL OR owner_id = $1
		ORDER BY id
		LIMIT $2 OFFSET $3`

	countItems = `SELECT count(*) FROM items WHERE $1::bigint IS NULL OR owner_id = $1`

	updateOwnedItem = `
		UPDATE items
		SET name        = COALESCE($3, name),
		    description = COALESCE($4, description),
		    price_cents = COALESCE($5, price_cents),
		    updated_at  = now()
		WHERE id = $1 AND owner_id = $2
		RETURNING ` + itemColumns

	deleteOwnedItem = `DELETE FROM items WHERE id = $1 AND owner_id = $2`

	selectItemOwner = `SELECT owner_id FROM items WHERE id = $1`

	deleteItemsByOwner = `DELETE FROM items WHERE owner_id = $1`
)

const itemOwnerForeignKey = "items_owner_id_fkey"

// ItemRepository stores items in PostgreSQL.
type ItemRepository struct {
	data *Data
}

func NewItemRepository(data *Data) *ItemRepository {
	return &ItemRepository{data: data}
}

func (r *ItemRepository) Create(ctx context.Context, it services.NewItem) (services.Item, error) {
	var row itemRow
	err := r.data.DB(ctx).GetContext(ctx, &row, insertItem, it.Name, it.Description, it.PriceCents, it.OwnerID)
	if foreignKeyViolation(err, itemOwnerForeignKey) {
		return services.Item{}, services.ErrUnauthenticated // the owner was deleted after authenticating
	}
	if err != nil {
		return services.Item{}, fmt.Errorf("insert item: %w", err)
	}
	return row.item(), nil
}

func (r *ItemRepository) Get(ctx context.Context, id int64) (services.Item, error) {
	var row itemRow
	if err := r.data.DB(ctx).GetContext(ctx, &row, selectItem, id); err != nil {
		return services.Item{}, err
	}
	return row.item(), nil
}

func (r *ItemRepository) List(ctx context.Context, f services.ItemFilter, p services.Page) ([]services.Item, int64, error) {
	q := r.data.DB(ctx)
	var rows []itemRow
	if err := q.SelectContext(ctx, &rows, selectItemPage, f.OwnerID, p.Limit, p.Offset); err != nil {
		return nil, 0, fmt.Errorf("select items: %w", err)
	}
	var total int64
	if err := q.GetContext(ctx, &total, countItems, f.OwnerID); err != nil {
		return nil, 0, fmt.Errorf("count items: %w", err)
	}
	items := make([]services.Item, len(rows))
	for i, row := range rows {
		items[i] = row.item()
	}
	return items, total, nil
}

func (r *ItemRepository) UpdateOwned(ctx context.Context, id, ownerID int64, c services.ItemChanges) (services.Item, error) {
	var row itemRow
	err := r.data.DB(ctx).GetContext(ctx, &row, updateOwnedItem, id, ownerID, c.Name, c.Description, c.PriceCents)
	if err != nil {
		return services.Item{}, err
	}
	return row.item(), nil
}

func (r *ItemRepository) DeleteOwned(ctx context.Context, id, ownerID int64) error {
	res, err := r.data.DB(ctx).ExecContext(ctx, deleteOwnedItem, id, ownerID)
	if err != nil {
		return fmt.Errorf("delete item: %w", err)
	}
	return expectRow(res)
}

func (r *ItemRepository) Owner(ctx context.Context, id int64) (int64, error) {
	var owner int64
	if err := r.data.DB(ctx).GetContext(ctx, &owner, selectItemOwner, id); err != nil {
		return 0, err
	}
	return owner, nil
}

func (r *ItemRepository) DeleteByOwner(ctx context.Context, ownerID int64) error {
	if _, err := r.data.DB(ctx).ExecContext(ctx, deleteItemsByOwner, ownerID); err != nil {
		return fmt.Errorf("delete items of user %d: %w", ownerID, err)
	}
	return nil
}
