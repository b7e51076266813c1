package sqlkit

import (
	"errors"
	"fmt"

	"github.com/cueapi/cueapi/core"
)

// Class is what a dialect's driver error means to the store port.
type Class int

const (
	// Other errors pass through, prefixed.
	Other Class = iota
	// Unique is a unique or primary key violation: core.ErrConflict.
	Unique
	// ForeignKey is a foreign key violation: for writes of a tenant's own
	// rows (see Errors.Tenant), the tenant does not exist.
	ForeignKey
	// BadText is text the database cannot store (NUL, invalid encoding):
	// bad input, never a 500.
	BadText
	// Unavailable is a database that cannot serve right now (connection
	// lost or refused, shutting down, busy): a 503, never a 500.
	Unavailable
	// Full is a database whose disk is full: a 503 storage_full.
	Full
)

// Errors is the one translation of a dialect's database failures into the
// port's errors; the dialect supplies how to recognize them.
type Errors struct {
	// Prefix starts every message ("postgres", "sqlite").
	Prefix string
	// NoRows is the driver's "no rows" error: core.ErrNotFound.
	NoRows error
	// Classify classifies a driver error and names its detail (a
	// constraint or the driver's message; "" none).
	Classify func(err error) (Class, string)
}

// Op prefixes err with the adapter and the operation, keeping it
// matchable; nil stays nil.
func (e Errors) Op(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %s: %w", e.Prefix, op, err)
}

// Interpret translates err: no rows become core.ErrNotFound, unique
// violations core.ErrConflict, unstorable text a 422; everything is
// prefixed with the operation; an unavailable or full database becomes
// core.Unavailable or core.StorageFull. nil stays nil.
func (e Errors) Interpret(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, e.NoRows) {
		return e.Op(op, core.ErrNotFound)
	}
	switch class, detail := e.Classify(err); class {
	case Unique:
		return e.Op(op, fmt.Errorf("%w (%s)", core.ErrConflict, detail))
	case BadText:
		// The API refuses such text earlier; this is the safety net.
		return e.Op(op, core.FieldError{}.Unstorable().Err())
	case Unavailable:
		return e.Op(op, core.Unavailable(err))
	case Full:
		return e.Op(op, core.StorageFull(err))
	}
	return e.Op(op, err)
}

// Tenant is Interpret for writes of a tenant's own rows: a foreign key
// violation means the tenant does not exist (core.ErrNotFound).
func (e Errors) Tenant(op string, err error) error {
	if err == nil {
		return nil
	}
	if class, detail := e.Classify(err); class == ForeignKey {
		return e.Op(op, fmt.Errorf("%w (%s)", core.ErrNotFound, detail))
	}
	return e.Interpret(op, err)
}

// InTx runs fn in the transaction begin opens and commits it when fn
// returns nil; rollback runs in every case (a no-op once committed). fn's
// error is returned as is (so a Fn callback's error reaches the caller
// untouched): fn interprets its own query errors.
func InTx[Tx any](op string, e Errors, begin func() (Tx, error), commit func(Tx) error, rollback func(Tx), fn func(Tx) error) error {
	tx, err := begin()
	if err != nil {
		return e.Interpret(op, err)
	}
	defer rollback(tx)
	if err := fn(tx); err != nil {
		return err
	}
	return e.Interpret(op, commit(tx))
}

// Affected finishes a write of one row by key: a query error is
// interpreted; no row affected is core.ErrNotFound.
func (e Errors) Affected(op string, n int64, err error) error {
	if err != nil {
		return e.Interpret(op, err)
	}
	if n == 0 {
		return e.Op(op, core.ErrNotFound)
	}
	return nil
}

// Value finishes an operation that fills *v in a transaction: *v when err
// is nil, the zero value and err otherwise. Arguments are evaluated in
// order, so in Value(&out, s.inTx(…)) the transaction has run when *v is
// read.
func Value[T any](v *T, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return *v, nil
}
