package repositories

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/example/apitemplate/services"
)

// A list's statements are put together from constant pieces: the table's
// select, the conditions of the filters that are set, the keyset condition
// of a cursor and the order of the sort. Which pieces go in depends only on
// which filters are set and on the sort, never on their values, which are
// always bound as arguments. Each shape of request so gets a statement, and
// a plan, of its own: a filter that is not set is not in the statement at
// all, rather than an "$1 IS NULL OR ..." that one cached plan would have
// to serve both ways.

// sortKey is a column a list may be ordered by.
type sortKey struct {
	column string // the column, with id after it as the tie-break
	cast   string // the SQL type a cursor's value is read back as
}

// likePattern is a pattern for LIKE and ILIKE that matches text containing
// s, in which %, _ and the escape character itself are literal.
func likePattern(s string) string {
	return "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s) + "%"
}

// selectPage reads one page of rows into dest: selectFrom with the
// conditions of w, after p's cursor or at p's offset, in p's order, and one
// row more than the limit, which tells whether another page follows.
func selectPage(ctx context.Context, q Querier, dest any, selectFrom string, w where, sorts map[string]sortKey, p services.Page) error {
	key, ok := sorts[p.Sort.Field]
	if !ok {
		return fmt.Errorf("list: cannot sort by %q", p.Sort.Field)
	}
	cmp, dir := ">", "ASC"
	if p.Sort.Desc {
		cmp, dir = "<", "DESC"
	}
	order := " ORDER BY id " + dir
	if key.column != "id" {
		order = " ORDER BY " + key.column + " " + dir + ", id " + dir
	}
	switch {
	case p.After != nil && key.column == "id":
		w.and("id " + cmp + " " + w.bind(p.After.ID))
	case p.After != nil:
		w.and("(" + key.column + ", id) " + cmp + " (" + w.bind(p.After.Value) + "::" + key.cast + ", " + w.bind(p.After.ID) + ")")
	}
	statement := selectFrom + w.clause() + order + " LIMIT " + w.bind(p.Limit+1)
	if p.After == nil && p.Offset > 0 {
		statement += " OFFSET " + w.bind(p.Offset)
	}
	return q.SelectContext(ctx, dest, statement, w.args...)
}

// countUpTo counts the rows of table that w matches, reading at most one
// more than services.MaxCount of them.
func countUpTo(ctx context.Context, q Querier, table string, w where) (total int64, exact bool, err error) {
	statement := "SELECT count(*) FROM (SELECT 1 FROM " + table + w.clause() +
		" LIMIT " + strconv.Itoa(services.MaxCount+1) + ") AS capped"
	if err := q.GetContext(ctx, &total, statement, w.args...); err != nil {
		return 0, false, err
	}
	if total > services.MaxCount {
		return services.MaxCount, false, nil
	}
	return total, true, nil
}

// pageOf turns the rows selectPage read into a page: at most p.Limit of
// them, and the cursor after the last when more follow.
func pageOf[R, T any](rows []R, p services.Page, total int64, exact bool, convert func(R) T, cursor func(R) services.Cursor) services.PageOf[T] {
	page := services.PageOf[T]{Limit: p.Limit, Offset: p.Offset, Total: total, TotalExact: exact}
	if p.After != nil {
		page.Offset = 0
	}
	if len(rows) > p.Limit {
		rows = rows[:p.Limit]
		next := cursor(rows[len(rows)-1])
		page.Next = &next
	}
	page.Items = make([]T, len(rows))
	for i, r := range rows {
		page.Items[i] = convert(r)
	}
	return page
}

// cursorTime is how a timestamp travels in a cursor: to the microsecond,
// as PostgreSQL keeps it, in a form timestamptz reads back.
func cursorTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
