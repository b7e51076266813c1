package coretest

import (
	"context"
	"io/fs"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

// SlugBackfillUser is an account that existed before users had slugs.
type SlugBackfillUser struct {
	ID        core.TenantID
	Email     string
	CreatedAt time.Time
}

// SlugBackfillUsers are accounts created oldest first: a duplicate base,
// a local part with no usable character, non-ASCII letters, a 64-character
// local part and separators.
func SlugBackfillUsers() []SlugBackfillUser {
	emails := []string{
		"Ops.Bot@example.com", "ops_bot@other.example", "___@example.com", "héllo.wörld@example.com",
		strings.Repeat("a", 64) + "@example.com", "x+tag--y@example.com", "OPS-BOT@third.example",
	}
	out := make([]SlugBackfillUser, len(emails))
	for i, e := range emails {
		out[i] = SlugBackfillUser{ID: core.NewTenantID(), Email: e, CreatedAt: FactoryTime.Add(time.Duration(i) * time.Minute)}
	}
	return out
}

// WantBackfilledSlug is the slug a migration must give u among users: the
// core.SlugBase derivation, and for an account whose base an older account
// has, the base cut to 55 plus "-" and the first 4 characters of its id.
func WantBackfilledSlug(users []SlugBackfillUser, u SlugBackfillUser) string {
	base := core.SlugBase(u.Email)
	for _, o := range users {
		if o.CreatedAt.Before(u.CreatedAt) && core.SlugBase(o.Email) == base {
			return strings.TrimRight(base[:min(len(base), 55)], "-") + "-" + string(u.ID)[:4]
		}
	}
	return base
}

// MigrationsBefore returns the migration files of fsys (name order) whose
// version sorts before version.
func MigrationsBefore(t *testing.T, fsys fs.FS, version string) []string {
	t.Helper()
	names, err := fs.Glob(fsys, "*.up.sql")
	require.NoError(t, err)
	sort.Strings(names)
	var out []string
	for _, n := range names {
		if strings.TrimSuffix(n, ".up.sql") < version {
			out = append(out, n)
		}
	}
	require.NotEmpty(t, out)
	return out
}

// RequireBackfilledSlugs checks every account of users has its expected
// slug in s (after the migration ran).
func RequireBackfilledSlugs(t *testing.T, s core.Store, users []SlugBackfillUser) {
	t.Helper()
	seen := map[string]bool{}
	for _, u := range users {
		got, err := s.UserGet(context.Background(), &core.UserGetParams{ID: u.ID})
		require.NoError(t, err)
		require.Equal(t, WantBackfilledSlug(users, u), got.Slug, u.Email)
		require.False(t, seen[got.Slug], "slugs are unique")
		seen[got.Slug] = true
	}
}
