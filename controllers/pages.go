package controllers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/example/apitemplate/services"
)

// PageQuery is the page a list request asks for: ?limit=&offset=&cursor=.
// Each list adds its own sort (with the fields it may be sorted by) and
// filters.
type PageQuery struct {
	Limit  int    `form:"limit" binding:"min=1,max=100"`
	Offset *int   `form:"offset" binding:"omitnil,offset"`
	Cursor string `form:"cursor"`
}

// defaultPage is a query before the client's values are bound over it.
func defaultPage() PageQuery {
	return PageQuery{Limit: 50}
}

// IDPath is a resource id in the path.
type IDPath struct {
	ID int64 `uri:"id" binding:"min=1"`
}

// Page is one page of a list.
//
//	@Description	One page of a list, in the order asked for (by id by default).
type Page[T any] struct {
	// This page's rows; empty past the end, never null.
	Items []T `json:"items"`
	// The page size asked for (default 50).
	Limit int `json:"limit" minimum:"1" maximum:"100" format:"int32" example:"50"`
	// The rows skipped (default 0); 0 when the page was asked for by cursor.
	Offset int `json:"offset" minimum:"0" maximum:"10000" format:"int32" example:"0"`
	// The number of rows that match, counted up to 10000.
	Total int64 `json:"total" minimum:"0" maximum:"10000" format:"int64" example:"1"`
	// Whether total is exact; false means "at least total".
	TotalExact bool `json:"total_exact" example:"true"`
	// Send it back as cursor (with the same sort and filters) for the rows
	// after this page; null when none follows.
	NextCursor *string `json:"next_cursor" extensions:"x-nullable" example:"eyJ2IjoiIiwiaSI6NTB9.Zm9v"`
}

// Cursors carry a list's position to the client and back. A cursor is
// signed, so an altered one is refused, and bound to the list, sort and
// filters it was made for, so it cannot be used for another.
type Cursors struct {
	key []byte
}

// NewCursors signs with a key derived from the JWT secret, which every
// replica shares, so a cursor from one is good on all.
func NewCursors(cfg services.AuthConfig) *Cursors {
	mac := hmac.New(sha256.New, cfg.JWTSecret)
	mac.Write([]byte("list cursors"))
	return &Cursors{key: mac.Sum(nil)}
}

type cursorPayload struct {
	Value string `json:"v"`
	ID    int64  `json:"i"`
}

// encode returns the cursor for c in the list that binding names.
func (cs *Cursors) encode(c services.Cursor, binding string) string {
	payload, _ := json.Marshal(cursorPayload{Value: c.Value, ID: c.ID}) // a string and an integer always encode
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(cs.sign(p, binding))
}

// decode reads a cursor that encode made for binding.
func (cs *Cursors) decode(s, binding string) (services.Cursor, bool) {
	p, sig, ok := strings.Cut(s, ".")
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if !ok || err != nil || !hmac.Equal(got, cs.sign(p, binding)) {
		return services.Cursor{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(p)
	var c cursorPayload
	if err != nil || json.Unmarshal(raw, &c) != nil || c.ID < 1 {
		return services.Cursor{}, false
	}
	return services.Cursor{Value: c.Value, ID: c.ID}, true
}

func (cs *Cursors) sign(payload, binding string) []byte {
	mac := hmac.New(sha256.New, cs.key)
	mac.Write([]byte(binding))
	mac.Write([]byte{0})
	mac.Write([]byte(payload))
	return mac.Sum(nil)[:16]
}

// listBinding names a list with its sort and filters, which is what a
// cursor is bound to.
func listBinding(path string, sort services.Sort, filter any) string {
	f, _ := json.Marshal(filter) // filters are plain values
	return path + "\x00" + sortParam(sort) + "\x00" + string(f)
}

// page is the services.Page that q and sort ask for, reading q's cursor
// for the list that binding names.
func (q PageQuery) page(cs *Cursors, sort services.Sort, binding string) (services.Page, error) {
	p := services.Page{Limit: q.Limit, Sort: sort}
	if q.Offset != nil {
		p.Offset = *q.Offset
	}
	if q.Cursor == "" {
		return p, nil
	}
	if q.Offset != nil {
		return p, &ValidationError{Detail: "query parameters failed validation", Errors: []FieldError{
			{Field: "cursor", Message: "cannot be combined with offset: a cursor says where the page starts"},
		}}
	}
	c, ok := cs.decode(q.Cursor, binding)
	if !ok {
		return p, &ValidationError{Detail: "query parameters failed validation", Errors: []FieldError{
			{Field: "cursor", Message: "is not a next_cursor this list gave for the same sort and filters"},
		}}
	}
	p.After = &c
	return p, nil
}

// parseSort reads ?sort=: a field, or - and the field for descending; the
// binding tag has already checked that the field is one the list sorts by.
func parseSort(s *string) services.Sort {
	if s == nil {
		return services.Sort{Field: "id"}
	}
	field, desc := strings.CutPrefix(*s, "-")
	return services.Sort{Field: field, Desc: desc}
}

func sortParam(s services.Sort) string {
	if s.Desc {
		return "-" + s.Field
	}
	return s.Field
}

func pageOf[T, R any](p services.PageOf[T], convert func(T) R, cs *Cursors, binding string) Page[R] {
	items := make([]R, len(p.Items))
	for i, it := range p.Items {
		items[i] = convert(it)
	}
	page := Page[R]{Items: items, Limit: p.Limit, Offset: p.Offset, Total: p.Total, TotalExact: p.TotalExact}
	if p.Next != nil {
		next := cs.encode(*p.Next, binding)
		page.NextCursor = &next
	}
	return page
}
