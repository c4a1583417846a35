package repositories

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/example/apitemplate/services"
)

type itemRow struct {
	ID          int64     `db:"id"`
	Name        string    `db:"name"`
	Description string    `db:"description"`
	PriceCents  int64     `db:"price_cents"`
	OwnerID     int64     `db:"owner_id"`
	Version     int64     `db:"version"`
	CreatedAt   time.Time `db:"created_at"`
	UpdatedAt   time.Time `db:"updated_at"`
}

func (r itemRow) item() services.Item {
	return services.Item{
		ID: r.ID, Name: r.Name, Description: r.Description, PriceCents: r.PriceCents,
		OwnerID: r.OwnerID, Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

const (
	itemColumns = `id, name, description, price_cents, owner_id, version, created_at, updated_at`

	insertItem = `
		INSERT INTO items (name, description, price_cents, owner_id)
		VALUES ($1, $2, $3, $4)
		RETURNING ` + itemColumns

	selectItem = `SELECT ` + itemColumns + ` FROM items WHERE id = $1`

	selectItems = `SELECT ` + itemColumns + ` FROM items`

	// A NULL change keeps the column. The WHERE clause is the id and the
	// write's condition (see Update).
	updateItem = `
		UPDATE items
		SET name        = COALESCE($2, name),
		    description = COALESCE($3, description),
		    price_cents = COALESCE($4, price_cents),
		    version     = version + 1,
		    updated_at  = now()`

	deleteItem = `DELETE FROM items`

	selectItemOwner = `SELECT owner_id FROM items WHERE id = $1`

	deleteItemsByOwner = `DELETE FROM items WHERE owner_id = $1`
)

const itemOwnerForeignKey = "items_owner_id_fkey"

// itemSorts are the orders a list of items takes; each has an index on
// (column, id) (see the migrations).
var itemSorts = map[string]sortKey{
	"id":          {"id", "bigint"},
	"created_at":  {"created_at", "timestamptz"},
	"price_cents": {"price_cents", "bigint"},
	"name":        {"name", "text"},
}

func (r itemRow) cursor(field string) services.Cursor {
	c := services.Cursor{ID: r.ID}
	switch field {
	case "created_at":
		c.Value = cursorTime(r.CreatedAt)
	case "price_cents":
		c.Value = strconv.FormatInt(r.PriceCents, 10)
	case "name":
		c.Value = r.Name
	}
	return c
}

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

// List reads a page of the items f matches, and counts them up to
// services.MaxCount.
func (r *ItemRepository) List(ctx context.Context, f services.ItemFilter, p services.Page) (services.PageOf[services.Item], error) {
	var w where
	if f.OwnerID != nil {
		w.and("owner_id = " + w.bind(*f.OwnerID))
	}
	if f.MinPriceCents != nil {
		w.and("price_cents >= " + w.bind(*f.MinPriceCents))
	}
	if f.MaxPriceCents != nil {
		w.and("price_cents <= " + w.bind(*f.MaxPriceCents))
	}
	if f.NameContains != nil {
		w.and(`name ILIKE ` + w.bind(likePattern(*f.NameContains)) + ` ESCAPE '\'`)
	}
	q := r.data.DB(ctx)
	var rows []itemRow
	if err := selectPage(ctx, q, &rows, selectItems, w, itemSorts, p); err != nil {
		return services.PageOf[services.Item]{}, fmt.Errorf("select items: %w", err)
	}
	total, exact, err := countUpTo(ctx, q, "items", w, p, len(rows))
	if err != nil {
		return services.PageOf[services.Item]{}, fmt.Errorf("count items: %w", err)
	}
	return pageOf(rows, p, total, exact, itemRow.item, func(r itemRow) services.Cursor { return r.cursor(p.Sort.Field) }), nil
}

// Update changes the item if it meets w: the condition is in the
// statement, so a concurrent write cannot change the item between a check
// and the update.
func (r *ItemRepository) Update(ctx context.Context, id int64, c services.ItemChanges, w services.WriteCondition) (services.Item, error) {
	cond := where{args: []any{id, c.Name, c.Description, c.PriceCents}}
	cond.and("id = $1")
	cond.writeCondition(w)
	var row itemRow
	if err := r.data.DB(ctx).GetContext(ctx, &row, updateItem+cond.clause()+` RETURNING `+itemColumns, cond.args...); err != nil {
		return services.Item{}, fmt.Errorf("update item: %w", err)
	}
	return row.item(), nil
}

// Delete removes the item if it meets w, in one statement, as Update does.
func (r *ItemRepository) Delete(ctx context.Context, id int64, w services.WriteCondition) error {
	cond := where{args: []any{id}}
	cond.and("id = $1")
	cond.writeCondition(w)
	res, err := r.data.DB(ctx).ExecContext(ctx, deleteItem+cond.clause(), cond.args...)
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
