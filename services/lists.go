package services

// Lists are read a page at a time: by offset for the first pages, then by
// cursor (keyset pagination), which costs the same however deep it goes
// and is stable while rows come and go.
const (
	// MaxOffset is the deepest an offset may reach; past it, pages are
	// read by cursor.
	MaxOffset = 10000
	// MaxCount is how far a list's rows are counted: past it, the total
	// is MaxCount and means "at least".
	MaxCount = 10000
)

// Sort orders a list by a field, ascending or descending. Rows that tie
// are ordered by id, in the same direction.
type Sort struct {
	Field string // a sortable field's JSON name: "id", "created_at", ...
	Desc  bool
}

// Cursor marks where a page ended: the sort value of its last row, as
// text, and that row's id.
type Cursor struct {
	Value string
	ID    int64
}

// Page selects one page of an ordered list: after a cursor, or at an
// offset.
type Page struct {
	Limit  int
	Offset int
	Sort   Sort
	After  *Cursor // nil: from the start, or from Offset
}

// PageOf is one page of a list, the cursor of the rows that follow it
// (nil when none does), and the number of rows that match, counted up to
// MaxCount.
type PageOf[T any] struct {
	Items      []T
	Limit      int
	Offset     int
	Total      int64
	TotalExact bool
	Next       *Cursor
}
