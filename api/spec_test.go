package api_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"
)

// errorResponseRef is the one error response every operation must point to, so
// that all failures share the envelope of spec/api.md §1.5.
const errorResponseRef = "#/components/responses/Error"

// specOperation is one method+path of openapi.yaml.
type specOperation struct {
	method string
	path   string
	op     *openapi3.Operation
}

func (o specOperation) String() string { return o.method + " " + o.path }

func TestSpec(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		doc *openapi3.T
		ops []specOperation
	}

	setup := func(t *testing.T) *testBundle {
		t.Helper()

		doc, err := openapi3.NewLoader().LoadFromFile("../openapi.yaml")
		require.NoError(t, err)

		var ops []specOperation
		for path, item := range doc.Paths.Map() {
			for method, op := range item.Operations() {
				ops = append(ops, specOperation{method: method, path: path, op: op})
			}
		}
		return &testBundle{doc: doc, ops: ops}
	}

	t.Run("DeclaresTheOperationsOfBothSpecs", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)

		// The 42 of spec/api.md plus GET /v1/info (clients.md F1) and
		// POST /v1/cues/bulk-delete (clients.md D1) and
		// POST /v1/executions/{execution_id}/live-claim (clients.md C10),
		// plus messaging: 11 agent operations (clients.md H1–H9, J1, J2) and
		// 4 message operations (I1, I10–I12), plus events: 5 operations
		// (clients.md M1–M4, M7).
		require.Len(t, bundle.ops, 65)
	})

	t.Run("EveryErrorStatusRefersToErrorResponse", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)

		// Responses that are deliberately not the JSON error envelope.
		exceptions := map[string]bool{
			"status 503":          true, // {"status":"down","reason":…}, spec/api.md §5.1.2
			"verifyMagicLink 400": true, // HTML error page, spec/api.md §5.3.4
		}
		for _, o := range bundle.ops {
			for code, resp := range o.op.Responses.Map() {
				status, err := strconv.Atoi(code)
				if err != nil || status < http.StatusBadRequest {
					continue
				}
				if exceptions[o.op.OperationID+" "+code] {
					continue
				}
				require.Equal(t, errorResponseRef, resp.Ref, "%s response %s", o, code)
			}
		}
	})

	t.Run("EveryOperationDeclaresDefaultErrorResponse", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)

		for _, o := range bundle.ops {
			def := o.op.Responses.Default()
			require.NotNil(t, def, "%s has no default response", o)
			require.Equal(t, errorResponseRef, def.Ref, "%s default response", o)
		}
	})

	t.Run("EveryOperationHasTagAndSecurity", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)

		for _, o := range bundle.ops {
			require.NotEmpty(t, o.op.Tags, "%s has no tag", o)
			require.NotNil(t, o.op.Security, "%s must state its security (use [] for public)", o)
		}
	})

	t.Run("IsValidOpenAPI303", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)

		require.Equal(t, "3.0.3", bundle.doc.OpenAPI)
		require.NoError(t, bundle.doc.Validate(t.Context()))
	})

	t.Run("OperationIDsAreUnique", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)

		seen := make(map[string]string, len(bundle.ops))
		for _, o := range bundle.ops {
			require.NotEmpty(t, o.op.OperationID, "%s has no operationId", o)
			prev, dup := seen[o.op.OperationID]
			require.False(t, dup, "operationId %q used by %s and %s", o.op.OperationID, prev, o)
			seen[o.op.OperationID] = o.String()
		}
	})
}
