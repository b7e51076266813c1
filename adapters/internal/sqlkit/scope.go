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

// Scan is a read of the rows id owns (a list, a count): an id that is not a
// UUID owns none, so the result is none.
func Scan[T any](id string, none T, fn func(id string) (T, error)) (T, error) {
	canon, ok := UUID(id)
	if !ok {
		return none, nil
	}
	return fn(canon)
}
