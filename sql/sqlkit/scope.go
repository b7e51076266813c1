package sqlkit

import "github.com/cueapi/cueapi/core"

// The SQL adapters key rows by UUIDs (tenants, executions, alerts, …). An
// id that is not a UUID names no row: this file is the one place that
// decides what an operation on such an id returns, so no adapter method
// repeats the check. Each helper runs fn with the canonical (lowercase) ids
// only when every id is a UUID (see UUID); otherwise fn does not run and
// the database is not asked.

// Find is an operation on the row (or rows) id names: an id that is not a
// UUID gives core.ErrNotFound, prefixed with op.
func Find[T any](e Errors, op string, id string, fn func(id string) (T, error)) (T, error) {
	canon, ok := UUID(id)
	if !ok {
		var zero T
		return zero, e.Op(op, core.ErrNotFound)
	}
	return fn(canon)
}

// Find2 is Find for an operation on one of a tenant's rows by id (both
// UUIDs).
func Find2[T any](e Errors, op string, tenant, id string, fn func(tenant, id string) (T, error)) (T, error) {
	return Find(e, op, tenant, func(tenant string) (T, error) {
		return Find(e, op, id, func(id string) (T, error) { return fn(tenant, id) })
	})
}

// Do is Find for an operation that returns only an error.
func Do(e Errors, op string, id string, fn func(id string) error) error {
	_, err := Find(e, op, id, func(id string) (struct{}, error) { return struct{}{}, fn(id) })
	return err
}

// Do2 is Find2 for an operation that returns only an error.
func Do2(e Errors, op string, tenant, id string, fn func(tenant, id string) error) error {
	_, err := Find2(e, op, tenant, id, func(tenant, id string) (struct{}, error) { return struct{}{}, fn(tenant, id) })
	return err
}

// Scan is a read of the rows id owns (a list, a count): an id that is not a
// UUID owns none, so the result is none.
func Scan[T any](id string, none T, fn func(id string) (T, error)) (T, error) {
	canon, ok := UUID(id)
	if !ok {
		return none, nil
	}
	return fn(canon)
}

// Rows is Scan for a list of the rows id owns: read's error is
// interpreted, each row converted by conv (a conversion error prefixed
// with op). The list is never nil.
func Rows[R, T any](e Errors, op string, id string, read func(id string) ([]R, error), conv func(R) (T, error)) ([]T, error) {
	return Scan(id, []T{}, func(id string) ([]T, error) {
		rows, err := read(id)
		if err != nil {
			return nil, e.Interpret(op, err)
		}
		out, err := Convert(rows, conv)
		return out, e.Op(op, err)
	})
}

// Listing is a page of rows and the total count of rows matching.
type Listing[T any] struct {
	Items []T
	Total int64
	// limit and offset are the page's window (Window); limit <= 0: none.
	limit, offset int
	windowed      bool
}

// Window records the page's limit and offset, which lets ReadPage skip the
// count statement when the page itself shows the total: a partial page
// (fewer rows than the limit, and either rows or offset 0) ends the
// result, so the total is offset + rows.
func (l *Listing[T]) Window(limit, offset int) *Listing[T] {
	l.limit, l.offset, l.windowed = limit, max(offset, 0), true
	return l
}

// NewListing returns an empty page: what a list of a tenant id that is not
// a UUID (which owns no rows) returns.
func NewListing[T any]() *Listing[T] { return &Listing[T]{Items: []T{}} }

// Of finishes a list: the page when err is nil.
func (l *Listing[T]) Of(err error) ([]T, int, error) {
	if err != nil {
		return nil, 0, err
	}
	return l.Items, int(l.Total), nil
}

// ReadPage fills l: read returns the page's rows (its error interpreted
// with op), conv converts each (a failure prefixed with op), and count the
// total matching, which runs only when the page does not show it (see
// Window). Without a surrounding transaction the count is a second
// statement: under concurrent writes it may include or miss those writes.
func ReadPage[R, T any](l *Listing[T], e Errors, op string, read func() ([]R, error), conv func(R) (T, error), count func() (int64, error)) error {
	rows, err := read()
	if err != nil {
		return e.Interpret(op, err)
	}
	if l.Items, err = Convert(rows, conv); err != nil {
		return e.Op(op, err)
	}
	if n := len(rows); l.windowed && (n > 0 || l.offset == 0) && (l.limit <= 0 || n < l.limit) {
		l.Total = int64(l.offset + n)
		return nil
	}
	l.Total, err = count()
	return e.Interpret(op, err)
}
