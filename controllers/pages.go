package controllers

import "github.com/example/apitemplate/services"

// PageQuery is the window of a list: ?limit=&offset=.
type PageQuery struct {
	Limit  int `form:"limit" binding:"min=1,max=100"`
	Offset int `form:"offset" binding:"min=0"`
}

// defaultPage is a query before the client's values are bound over it.
func defaultPage() PageQuery {
	return PageQuery{Limit: 50, Offset: 0}
}

func (q PageQuery) page() services.Page {
	return services.Page{Limit: q.Limit, Offset: q.Offset}
}

// Page is one window of a list, ordered by id.
//
//	@Description	One window of a list, ordered by id ascending.
type Page[T any] struct {
	// This window's rows; empty past the end, never null.
	Items []T `json:"items"`
	// The page size asked for (default 50).
	Limit int `json:"limit" minimum:"1" maximum:"100" example:"50"`
	// The rows skipped (default 0).
	Offset int `json:"offset" minimum:"0" example:"0"`
	// The number of rows in the whole list.
	Total int64 `json:"total" minimum:"0" example:"1"`
}

func pageOf[T, R any](p services.PageOf[T], convert func(T) R) Page[R] {
	items := make([]R, len(p.Items))
	for i, it := range p.Items {
		items[i] = convert(it)
	}
	return Page[R]{Items: items, Limit: p.Limit, Offset: p.Offset, Total: p.Total}
}

// IDPath is a resource id in the path.
type IDPath struct {
	ID int64 `uri:"id" binding:"min=1"`
}
