package repositories

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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

// A filtered list is planned for its values every time it runs. How many
// rows a filter keeps depends on its value (a rare word or a common one, an
// owner of ten items or of a million), and the generic plan PostgreSQL
// switches a prepared statement to after five runs is made without them:
// for a q that matched one row of 10,000 it walked the whole primary key,
// 7 ms where the trigram index answers in 0.03. pgx reads the mode in
// front of the arguments and sends the statement unnamed, in one round
// trip, which PostgreSQL plans with its values; it is one of the modes that
// work behind PgBouncer in transaction pooling (see DB_QUERY_EXEC_MODE). An
// unfiltered list, whose best plan is the same for any cursor or limit,
// keeps its prepared statement.
func listArgs(filtered bool, args []any) []any {
	if !filtered {
		return args
	}
	return append([]any{pgx.QueryExecModeExec}, args...)
}

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
	filtered := len(w.conds) > 0
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
	return q.SelectContext(ctx, dest, statement, listArgs(filtered, w.args)...)
}

// countUpTo counts the rows of table that w matches, reading at most one
// more than services.MaxCount of them. A page not reached by cursor that
// read fewer rows than selectPage asked for (its limit and one more) has
// found where the list ends, and so its total, with no statement: the
// common case of a filter that matches a few rows.
func countUpTo(ctx context.Context, q Querier, table string, w where, p services.Page, read int) (total int64, exact bool, err error) {
	if p.After == nil && read <= p.Limit && (read > 0 || p.Offset == 0) {
		total = int64(p.Offset + read)
	} else {
		statement := "SELECT count(*) FROM (SELECT 1 FROM " + table + w.clause() +
			" LIMIT " + strconv.Itoa(services.MaxCount+1) + ") AS capped"
		if err := q.GetContext(ctx, &total, statement, listArgs(len(w.conds) > 0, w.args)...); err != nil {
			return 0, false, err
		}
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
