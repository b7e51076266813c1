package api

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/api/apigen"
	"github.com/cueapi/cueapi/core"
)

// TestDetailMessageCoversEveryRule renders each rule core can raise in the
// reference's wording; a rule without wording would fall back to a generic
// text and fail here.
func TestDetailMessageCoversEveryRule(t *testing.T) {
	f := core.Body("retry", "backoff_minutes")
	cases := []struct {
		fe   core.FieldError
		want string
	}{
		{f.Required(), "Field required"},
		{core.FieldError{In: core.InBody, Path: []string{"nmae"}, Rule: core.RuleExtra}, "Extra inputs are not permitted"},
		{f.NotA(core.TypeString), "Input should be a valid string"},
		{f.NotA(core.TypeInteger), "Input should be a valid integer"},
		{f.NotA(core.TypeNumber), "Input should be a valid number"},
		{f.NotA(core.TypeBoolean), "Input should be a valid boolean"},
		{f.NotA(core.TypeObject), "Input should be a valid dictionary"},
		{f.NotA(core.TypeArray), "Input should be a valid list"},
		{f.NotA(core.TypeDatetime), "Input should be a valid datetime"},
		{f.NotA(core.TypeURL), "Input should be a valid URL, relative URL without a base"},
		{typeProblem(f, core.TypeNumber, core.TypeString), "Input should be a valid number, unable to parse string as a number"},
		{f.OneOf("a"), "Input should be 'a'"},
		{f.OneOf("a", "b", "c"), "Input should be 'a', 'b' or 'c'"},
		{f.Below(1), "Input should be greater than or equal to 1"},
		{f.Above(-3), "Input should be less than or equal to -3"},
		{core.FieldError{Rule: core.RuleMinLength, Limit: 2}, "String should have at least 2 characters"},
		{f.TooLong(1), "String should have at most 1 character"},
		{func() core.FieldError { x := f.TooLong(2083); x.Want = core.TypeURL; return x }(), "URL should have at most 2083 characters"},
		{core.FieldError{Rule: core.RuleMinItems, Want: core.TypeArray, Limit: 1}, "List should have at least 1 item after validation"},
		{f.TooMany(core.TypeArray, 20, 21), "List should have at most 20 items after validation, not 21"},
		{f.TooMany(core.TypeObject, 50, 51), "Dictionary should have at most 50 items after validation, not 51"},
		{core.FieldError{Rule: core.RulePattern, Reason: "^msg_[a-z0-9]{12}$"}, "String should match pattern '^msg_[a-z0-9]{12}$'"},
		{f.HasNul(core.TypeString), "String should not contain null characters"},
		{f.HasNul(core.TypeObject), "Values should not contain null characters"},
		{f.Unstorable(), "String should not contain null or invalid characters"},
		{f.TooDeep(64), "Input should be nested at most 64 levels deep"},
		{core.FieldError{Rule: core.RuleURLScheme, Allowed: []string{"http", "https"}}, "URL scheme should be 'http' or 'https'"},
		{f.NotEmail("An email address must have an @-sign."), "value is not a valid email address: An email address must have an @-sign."},
		{core.FieldError{In: core.InBody, Rule: core.RuleCrossField, Reason: "x is required"}, "Value error, x is required"},
		{f.Because("Header is reserved and cannot be overridden"), "Header is reserved and cannot be overridden"},
	}
	rules := map[core.Rule]bool{}
	for _, c := range cases {
		require.Equal(t, c.want, detailMessage(c.fe), c.fe.String())
		rules[c.fe.Rule] = true
	}
	for r := core.RuleInvalid; r <= core.RuleCrossField; r++ {
		require.True(t, rules[r], "rule %s has no rendering case", r)
	}
}

// TestRenderDetailsComposesTheMessage: the envelope's message is the first
// problem's "<field>: <message>", or just the message without a location.
func TestRenderDetailsComposesTheMessage(t *testing.T) {
	details, msg := renderDetails([]core.FieldError{core.Query("limit").Below(1), core.Query("offset").Below(0)})
	require.Equal(t, "query.limit: Input should be greater than or equal to 1", msg)
	require.Equal(t, []fieldDetail{
		{Field: "query.limit", Message: "Input should be greater than or equal to 1"},
		{Field: "query.offset", Message: "Input should be greater than or equal to 0"},
	}, details)

	details, msg = renderDetails([]core.FieldError{core.FieldError{}.Unstorable()})
	require.Equal(t, "String should not contain null or invalid characters", msg)
	require.Equal(t, "", details[0].Field)
}

// TestBindingErrorNamesTheParameter: a value the generated binder cannot
// hold is reported at the routed parameter's location.
func TestBindingErrorNamesTheParameter(t *testing.T) {
	doc, err := Spec()
	require.NoError(t, err)
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	r := httptest.NewRequest("GET", "/v1/cues/cue_aaaaaaaaaaaa?execution_limit=x", nil)
	route, _, err := router.FindRoute(r)
	require.NoError(t, err)
	r = r.WithContext(withState(r.Context(), &requestState{route: route}))

	cases := []struct {
		err  error
		want string
	}{
		{&apigen.InvalidParamFormatError{ParamName: "execution_limit", Err: errors.New("x")}, "query.execution_limit: Input should be a valid integer, unable to parse string as an integer"},
		{&apigen.InvalidParamFormatError{ParamName: "cue_id", Err: errors.New("x")}, "path.cue_id: Input should be a valid string"},
		{&apigen.RequiredParamError{ParamName: "execution_offset"}, "query.execution_offset: Field required"},
		{&apigen.TooManyValuesForParamError{ParamName: "execution_limit", Count: 2}, "query.execution_limit: Expected one value, got 2"},
	}
	for _, c := range cases {
		e, ok := core.AsError(bindingError(r, c.err))
		require.True(t, ok)
		_, msg := renderDetails(e.Details)
		require.Equal(t, c.want, msg)
	}
}

// TestCheckSecuritySchemes: the request validator skips kin-openapi's
// security pass, which could only fail for an undeclared scheme; such a
// spec is refused when the handler is built, and ours passes.
func TestCheckSecuritySchemes(t *testing.T) {
	doc, err := Spec()
	require.NoError(t, err)
	require.NoError(t, checkSecuritySchemes(doc))

	op := &openapi3.Operation{Security: &openapi3.SecurityRequirements{{"nope": {}}}}
	bad := &openapi3.T{Paths: openapi3.NewPaths(openapi3.WithPath("/x", &openapi3.PathItem{Get: op}))}
	require.ErrorContains(t, checkSecuritySchemes(bad), `GET /x: security scheme "nope" is not declared`)
	bad = &openapi3.T{Security: openapi3.SecurityRequirements{{"global": {}}}, Paths: openapi3.NewPaths()}
	require.ErrorContains(t, checkSecuritySchemes(bad), `spec: security scheme "global" is not declared`)
}
