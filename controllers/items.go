package controllers

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/example/apitemplate/services"
)

// ItemController serves /items.
type ItemController struct {
	items   *services.ItemService
	idem    *services.IdempotencyService
	bind    *Binder
	cursors *Cursors
}

func NewItemController(items *services.ItemService, idem *services.IdempotencyService, bind *Binder, cursors *Cursors) *ItemController {
	return &ItemController{items: items, idem: idem, bind: bind, cursors: cursors}
}

func (ctl *ItemController) Routes() []Route {
	return []Route{
		{http.MethodGet, "/items", Public, ctl.List},
		{http.MethodGet, "/items/:id", Public, ctl.Get},
		{http.MethodPost, "/items", Bearer, ctl.Create},
		{http.MethodPut, "/items/:id", OwnerOrAdmin, ctl.Update},
		{http.MethodPatch, "/items/:id", OwnerOrAdmin, ctl.Patch},
		{http.MethodDelete, "/items/:id", OwnerOrAdmin, ctl.Delete},
	}
}

// CreateItemRequest is a new item; its owner is the caller.
//
//	@Description	A new item; its owner is the caller.
type CreateItemRequest struct {
	// 1 to 100 characters once surrounding whitespace is trimmed.
	Name string `json:"name" binding:"required,min=1,max=100" extensions:"x-trimmed" example:"Teapot"`
	// At most 1000 characters; defaults to "".
	Description string `json:"description" binding:"max=1000" example:"Short and stout"`
	// The price in cents; 0 is a free item.
	PriceCents *int64 `json:"price_cents" binding:"required,min=0,max=1000000000000" format:"int64" example:"1999"`
} //	@name	CreateItemRequest

func (r *CreateItemRequest) normalize() {
	r.Name = strings.TrimSpace(r.Name)
}

// UpdateItemRequest changes some of an item's fields; absent ones are kept.
//
//	@Description	The fields to change; absent (or null) ones keep their value.
type UpdateItemRequest struct {
	// 1 to 100 characters once surrounding whitespace is trimmed.
	Name *string `json:"name" binding:"omitnil,min=1,max=100" extensions:"x-trimmed" example:"Teapot"`
	// At most 1000 characters.
	Description *string `json:"description" binding:"omitnil,max=1000" example:"Short and stout"`
	// The price in cents; 0 is a free item.
	PriceCents *int64 `json:"price_cents" binding:"omitnil,min=0,max=1000000000000" format:"int64" example:"2499"`
} //	@name	UpdateItemRequest

func (r *UpdateItemRequest) normalize() {
	if r.Name != nil {
		*r.Name = strings.TrimSpace(*r.Name)
	}
}

func (r *UpdateItemRequest) changes() services.ItemChanges {
	return services.ItemChanges{Name: r.Name, Description: r.Description, PriceCents: r.PriceCents}
}

// PatchItemRequest is a JSON Merge Patch of an item.
//
//	@Description	A JSON Merge Patch (RFC 7396): absent members keep their value; null clears description to ""; name and price_cents cannot be null.
type PatchItemRequest struct {
	// 1 to 100 characters once surrounding whitespace is trimmed; not null.
	Name *string `json:"name" binding:"omitnil,min=1,max=100" patch:"required" extensions:"x-trimmed,x-not-null" example:"Teapot"`
	// At most 1000 characters; null clears it to "".
	Description *string `json:"description" binding:"omitnil,max=1000" extensions:"x-nullable" example:"Short and stout"`
	// The price in cents; 0 is a free item; not null.
	PriceCents *int64 `json:"price_cents" binding:"omitnil,min=0,max=1000000000000" patch:"required" format:"int64" extensions:"x-not-null" example:"2499"`
} //	@name	PatchItemRequest

func (r *PatchItemRequest) normalize() {
	if r.Name != nil {
		*r.Name = strings.TrimSpace(*r.Name)
	}
}

// ItemResponse is an item as clients see it.
//
//	@Description	An item, owned by the user who created it.
type ItemResponse struct {
	// Assigned by the server.
	ID int64 `json:"id" minimum:"1" format:"int64" example:"1"`
	// 1 to 100 characters.
	Name string `json:"name" example:"Teapot"`
	// At most 1000 characters; "" when none was given.
	Description string `json:"description" example:"Short and stout"`
	// The price in cents.
	PriceCents int64 `json:"price_cents" minimum:"0" format:"int64" example:"1999"`
	// The id of the user who created it.
	OwnerID int64 `json:"owner_id" minimum:"1" format:"int64" example:"1"`
	// RFC 3339, in UTC.
	CreatedAt time.Time `json:"created_at" format:"date-time" example:"2026-01-02T15:04:05.123456Z"`
	// RFC 3339, in UTC; moves forward on every change.
	UpdatedAt time.Time `json:"updated_at" format:"date-time" example:"2026-01-02T15:04:05.123456Z"`
} //	@name	Item

func itemETag(it services.Item) string { return etag(it.ID, it.Version) }

func itemResponse(it services.Item) ItemResponse {
	return ItemResponse{
		ID: it.ID, Name: it.Name, Description: it.Description, PriceCents: it.PriceCents,
		OwnerID: it.OwnerID, CreatedAt: it.CreatedAt.UTC(), UpdatedAt: it.UpdatedAt.UTC(),
	}
}

// ItemPage is a page of items.
//
//	@Description	One page of the items, in the order asked for (by id by default).
type ItemPage = Page[ItemResponse] //	@name	ItemPage

// ItemListQuery is a page of items, sorted and filtered.
type ItemListQuery struct {
	PageQuery
	Sort          *string `form:"sort" binding:"omitnil,oneof=id -id created_at -created_at price_cents -price_cents name -name"`
	OwnerID       *int64  `form:"owner_id" binding:"omitnil,min=1"`
	MinPriceCents *int64  `form:"min_price_cents" binding:"omitnil,min=0,max=1000000000000"`
	MaxPriceCents *int64  `form:"max_price_cents" binding:"omitnil,min=0,max=1000000000000"`
	Q             *string `form:"q" binding:"omitnil,min=1,max=100"`
}

func (q *ItemListQuery) crossCheck() []FieldError {
	if q.MinPriceCents != nil && q.MaxPriceCents != nil && *q.MinPriceCents > *q.MaxPriceCents {
		return []FieldError{{Field: "min_price_cents", Message: "must be at most max_price_cents"}}
	}
	return nil
}

// List returns a page of items.
//
//	@Summary		List items
//	@Description	Pages by offset (up to 10000) or, beyond and more cheaply, by cursor: send next_cursor back as cursor, with the same sort and filters. Rows that tie on the sort field are ordered by id.
//	@ID				listItems
//	@Tags			items
//	@Produce		json
//	@Param			limit			query		int		false	"Page size"															default(50)	minimum(1)	maximum(100)	format(int32)
//	@Param			offset			query		int		false	"Rows to skip; not with cursor"										default(0)	minimum(0)	maximum(10000)	format(int32)
//	@Param			cursor			query		string	false	"next_cursor of the previous page"
//	@Param			sort			query		string	false	"A field, or - and the field for descending"						default(id)	Enums(id, -id, created_at, -created_at, price_cents, -price_cents, name, -name)
//	@Param			owner_id		query		int		false	"Only this owner's"													minimum(1)	format(int64)
//	@Param			min_price_cents	query		int		false	"Only items priced at least this"									minimum(0)	maximum(1000000000000)	format(int64)
//	@Param			max_price_cents	query		int		false	"Only items priced at most this"									minimum(0)	maximum(1000000000000)	format(int64)
//	@Param			q				query		string	false	"Only items whose name contains this, case-insensitively (% and _ are literal)"	minlength(1)	maxlength(100)
//	@Success		200				{object}	ItemPage
//	@Failure		400				{object}	Problem
//	@Failure		500				{object}	Problem
//	@Failure		503				{object}	Problem
//	@Router			/items [get]
func (ctl *ItemController) List(c *gin.Context) error {
	q := ItemListQuery{PageQuery: defaultPage()}
	if err := ctl.bind.Query(c, &q); err != nil {
		return err
	}
	filter := services.ItemFilter{OwnerID: q.OwnerID, MinPriceCents: q.MinPriceCents, MaxPriceCents: q.MaxPriceCents, NameContains: q.Q}
	sort := parseSort(q.Sort)
	binding := listBinding("/items", sort, filter)
	p, err := q.page(ctl.cursors, sort, binding)
	if err != nil {
		return err
	}
	page, err := ctl.items.List(c.Request.Context(), filter, p)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, pageOf(page, itemResponse, ctl.cursors, binding))
	return nil
}

// Get returns one item.
//
//	@Summary	Get an item
//	@ID			getItem
//	@Tags		items
//	@Produce	json
//	@Param		id				path		int		true	"Item id"	minimum(1)	format(int64)
//	@Param		If-None-Match	header		string	false	"An ETag of the item: 304 while it is current"
//	@Success	200				{object}	ItemResponse
//	@Header		200				{string}	ETag	"The item's version"
//	@Success	304				"The item is still at the version If-None-Match names"
//	@Header		304				{string}	ETag	"The item's version"
//	@Failure	400				{object}	Problem
//	@Failure	404				{object}	Problem
//	@Failure	500				{object}	Problem
//	@Failure	503				{object}	Problem
//	@Router		/items/{id} [get]
func (ctl *ItemController) Get(c *gin.Context) error {
	var p IDPath
	if err := ctl.bind.Path(c, &p); err != nil {
		return err
	}
	it, err := ctl.items.Get(c.Request.Context(), p.ID)
	if err != nil {
		return err
	}
	if notModified(c, itemETag(it)) {
		return nil
	}
	return writeResource(c, http.StatusOK, itemETag(it), itemResponse(it))
}

// Create adds an item owned by the caller.
//
//	@Summary		Create an item
//	@Description	With an Idempotency-Key, a retry of the same request within 24 hours gets the first answer again (Idempotent-Replayed: true) and creates nothing.
//	@ID				createItem
//	@Tags			items
//	@Accept			json
//	@Produce		json
//	@Param			Idempotency-Key	header		string				false	"Makes the request safe to retry: 1 to 255 visible ASCII characters"	minlength(1)	maxlength(255)
//	@Param			body			body		CreateItemRequest	true	"The new item"
//	@Success		201				{object}	ItemResponse
//	@Header			201				{string}	Location			"/items/{id}"
//	@Header			201				{string}	ETag				"The item's version"
//	@Failure		400				{object}	Problem
//	@Failure		401				{object}	Problem
//	@Failure		409				{object}	Problem	"A request with this Idempotency-Key is still being processed"
//	@Failure		413				{object}	Problem
//	@Failure		415				{object}	Problem
//	@Failure		422				{object}	Problem	"The Idempotency-Key was used for a different request"
//	@Failure		500				{object}	Problem
//	@Failure		503				{object}	Problem
//	@Security		BearerAuth
//	@Router			/items [post]
func (ctl *ItemController) Create(c *gin.Context) error {
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	var req CreateItemRequest
	if err := ctl.bind.JSON(c, &req); err != nil {
		return err
	}
	caller := callerOf(c)
	return idempotent(c, ctl.idem, key, callerScope("POST /items", caller), req, func(ctx context.Context) (services.Answer, error) {
		it, err := ctl.items.Create(ctx, caller, services.NewItem{
			Name: req.Name, Description: req.Description, PriceCents: *req.PriceCents,
		})
		if err != nil {
			return services.Answer{}, err
		}
		return created("/items/"+strconv.FormatInt(it.ID, 10), itemETag(it), itemResponse(it))
	})
}

// Update changes an item.
//
//	@Summary		Update an item
//	@Description	A partial update: absent (or null) fields keep their value. The owner or an admin only. With If-Match, it applies only while the item is at that version. 404 is decided before 403, and 403 before 412.
//	@ID				updateItem
//	@Tags			items
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int					true	"Item id"	minimum(1)	format(int64)
//	@Param			If-Match	header		string				false	"An ETag of the item (or *): apply only if it is still current"
//	@Param			body		body		UpdateItemRequest	true	"Fields to change"
//	@Success		200			{object}	ItemResponse
//	@Header			200			{string}	ETag	"The item's new version"
//	@Failure		400			{object}	Problem
//	@Failure		401			{object}	Problem
//	@Failure		403			{object}	Problem
//	@Failure		404			{object}	Problem
//	@Failure		412			{object}	Problem	"The item has changed since the version If-Match names"
//	@Failure		413			{object}	Problem
//	@Failure		415			{object}	Problem
//	@Failure		500			{object}	Problem
//	@Failure		503			{object}	Problem
//	@Security		BearerAuth
//	@Router			/items/{id} [put]
func (ctl *ItemController) Update(c *gin.Context) error {
	var (
		p   IDPath
		req UpdateItemRequest
	)
	if err := ctl.bind.Path(c, &p); err != nil {
		return err
	}
	if err := ctl.bind.JSON(c, &req); err != nil {
		return err
	}
	return ctl.change(c, p.ID, req.changes())
}

// Patch changes an item by a JSON Merge Patch.
//
//	@Summary		Patch an item
//	@Description	A JSON Merge Patch (RFC 7396): absent members keep their value, null clears description to "", and name and price_cents cannot be null. The owner or an admin only. With If-Match, it applies only while the item is at that version. 404 is decided before 403, and 403 before 412.
//	@ID				patchItem
//	@Tags			items
//	@Accept			application/merge-patch+json
//	@Accept			json
//	@Produce		json
//	@Param			id			path		int					true	"Item id"	minimum(1)	format(int64)
//	@Param			If-Match	header		string				false	"An ETag of the item (or *): apply only if it is still current"
//	@Param			body		body		PatchItemRequest	true	"The merge patch"
//	@Success		200			{object}	ItemResponse
//	@Header			200			{string}	ETag	"The item's new version"
//	@Failure		400			{object}	Problem
//	@Failure		401			{object}	Problem
//	@Failure		403			{object}	Problem
//	@Failure		404			{object}	Problem
//	@Failure		412			{object}	Problem	"The item has changed since the version If-Match names"
//	@Failure		413			{object}	Problem
//	@Failure		415			{object}	Problem
//	@Failure		500			{object}	Problem
//	@Failure		503			{object}	Problem
//	@Security		BearerAuth
//	@Router			/items/{id} [patch]
func (ctl *ItemController) Patch(c *gin.Context) error {
	var (
		p   IDPath
		req PatchItemRequest
	)
	if err := ctl.bind.Path(c, &p); err != nil {
		return err
	}
	if err := ctl.bind.MergePatch(c, &req); err != nil {
		return err
	}
	return ctl.change(c, p.ID, services.ItemChanges{Name: req.Name, Description: req.Description, PriceCents: req.PriceCents})
}

func (ctl *ItemController) change(c *gin.Context, id int64, changes services.ItemChanges) error {
	it, err := ctl.items.Update(c.Request.Context(), callerOf(c), id, changes, ifMatch(c, id))
	if err != nil {
		return err
	}
	return writeResource(c, http.StatusOK, itemETag(it), itemResponse(it))
}

// Delete removes an item.
//
//	@Summary		Delete an item
//	@Description	The owner or an admin only. With If-Match, it applies only while the item is at that version. 404 is decided before 403, and 403 before 412.
//	@ID				deleteItem
//	@Tags			items
//	@Produce		json
//	@Param			id			path	int		true	"Item id"	minimum(1)	format(int64)
//	@Param			If-Match	header	string	false	"An ETag of the item (or *): delete only if it is still current"
//	@Success		204
//	@Failure		400	{object}	Problem
//	@Failure		401	{object}	Problem
//	@Failure		403	{object}	Problem
//	@Failure		404	{object}	Problem
//	@Failure		412	{object}	Problem	"The item has changed since the version If-Match names"
//	@Failure		500	{object}	Problem
//	@Failure		503	{object}	Problem
//	@Security		BearerAuth
//	@Router			/items/{id} [delete]
func (ctl *ItemController) Delete(c *gin.Context) error {
	var p IDPath
	if err := ctl.bind.Path(c, &p); err != nil {
		return err
	}
	if err := ctl.items.Delete(c.Request.Context(), callerOf(c), p.ID, ifMatch(c, p.ID)); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
