package repositories

import (
	"strconv"
	"strings"

	"github.com/example/apitemplate/services"
)

// where collects the conditions of a list and the arguments they bind.
type where struct {
	conds []string
	args  []any
}

// bind adds v to the arguments and returns its placeholder.
func (w *where) bind(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

// and adds a condition.
func (w *where) and(cond string) { w.conds = append(w.conds, cond) }

func (w *where) clause() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// writeCondition adds the conditions a write applies under: the owner,
// when set, and the versions, when set.
func (w *where) writeCondition(c services.WriteCondition) {
	if c.OwnerID != nil {
		w.and("owner_id = " + w.bind(*c.OwnerID))
	}
	if c.Versions != nil {
		w.and("version = ANY(" + w.bind([]int64(c.Versions)) + ")")
	}
}
