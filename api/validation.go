package api

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/cueapi/cueapi/api/apigen"
	"github.com/cueapi/cueapi/core"
)

// This file is the HTTP side of validation errors: it translates
// kin-openapi's structured request errors into core.FieldError values, and
// renders every core.FieldError in the reference's (pydantic v2) wording
// for the 422 envelope of spec/api.md §1.5.

// notSchema is the reason of a problem kin-openapi reports in a shape this
// file does not know; the field is still named.
const notSchema = "Input does not match the request schema"

// validationError converts kin-openapi's request errors (a MultiError of
// RequestErrors when Options.MultiError is set) into one validation error
// listing every problem found.
func validationError(err error) error {
	var out []core.FieldError
	collectRequestErrors(err, &out)
	if len(out) == 0 {
		out = append(out, core.Body().Because(notSchema))
	}
	return core.Validation(dedupe(out)...)
}

func collectRequestErrors(err error, out *[]core.FieldError) {
	// A RequestError unwraps to the schema errors it holds, so it is matched
	// by type first, never by errors.As through a MultiError.
	switch e := err.(type) {
	case openapi3.MultiError:
		for _, x := range e {
			collectRequestErrors(x, out)
		}
		return
	case *openapi3filter.RequestError:
		collectRequestError(e, out)
		return
	}
	var re *openapi3filter.RequestError
	if errors.As(err, &re) {
		collectRequestError(re, out)
		return
	}
	*out = append(*out, core.Body().Because(notSchema))
}

// collectRequestError handles one parameter's or the body's problems.
func collectRequestError(re *openapi3filter.RequestError, out *[]core.FieldError) {
	field, want := core.Body(), core.TypeObject
	param := re.Parameter != nil
	if param {
		field = core.FieldError{In: core.Location(re.Parameter.In), Path: []string{re.Parameter.Name}}
		want = schemaType(re.Parameter.Schema)
	}
	switch {
	case errors.Is(re.Err, openapi3filter.ErrInvalidRequired):
		*out = append(*out, field.Required())
	case errors.Is(re.Err, openapi3filter.ErrInvalidEmptyValue):
		*out = append(*out, typeProblem(field, want, core.TypeString))
	case re.Err == nil:
		// The body's Content-Type is not JSON: the raw bytes are "validated"
		// as the body and are no object (api.md §1.2).
		*out = append(*out, typeProblem(field, want, ""))
	default:
		collectSchemaErrors(field, want, param, re.Err, out)
	}
}

// collectSchemaErrors walks schema errors below base. param is true for
// query/path/header values, which always arrive as strings.
func collectSchemaErrors(base core.FieldError, want core.ValueType, param bool, err error, out *[]core.FieldError) {
	switch e := err.(type) {
	case openapi3.MultiError:
		for _, x := range e {
			collectSchemaErrors(base, want, param, x, out)
		}
		return
	case *openapi3.SchemaError:
		// allOf/oneOf wrap the errors of their branches; those carry the
		// full path already.
		if e.Origin != nil && (e.SchemaField == "allOf" || e.SchemaField == "oneOf") {
			var me openapi3.MultiError
			if errors.As(e.Origin, &me) {
				collectSchemaErrors(base, want, param, me, out)
				return
			}
		}
		*out = append(*out, schemaProblem(base, e, param))
		return
	case *openapi3filter.ParseError:
		*out = append(*out, typeProblem(base, want, core.TypeString))
		return
	}
	var se *openapi3.SchemaError
	var pe *openapi3filter.ParseError
	switch {
	case errors.As(err, &se):
		collectSchemaErrors(base, want, param, se, out)
	case errors.As(err, &pe):
		collectSchemaErrors(base, want, param, pe, out)
	default:
		*out = append(*out, base.Because(notSchema))
	}
}

// schemaProblem translates one schema violation.
func schemaProblem(base core.FieldError, se *openapi3.SchemaError, param bool) core.FieldError {
	fe := base
	for _, k := range se.JSONPointer() {
		fe = fe.Key(k)
	}
	s := se.Schema
	if s == nil {
		return fe.Because(se.Reason)
	}
	switch se.SchemaField {
	case "required":
		return fe.Required() // the pointer names the missing key
	case "properties":
		if name, ok := unsupportedProperty(se.Reason); ok {
			fe = fe.Key(name)
			fe.Rule = core.RuleExtra
			return fe
		}
	case "type", "nullable":
		got := jsonType(se.Value)
		if param {
			got = core.TypeString
		}
		return typeProblem(fe, schemaType(&openapi3.SchemaRef{Value: s}), got)
	case "enum":
		allowed := make([]string, len(s.Enum))
		for i, v := range s.Enum {
			allowed[i] = fmt.Sprint(v)
		}
		return fe.OneOf(allowed...)
	case "minimum":
		if n, ok := integral(s.Min); ok {
			return fe.Below(n)
		}
	case "maximum":
		if n, ok := integral(s.Max); ok {
			return fe.Above(n)
		}
	case "minLength":
		fe.Rule, fe.Limit = core.RuleMinLength, int(s.MinLength)
		return fe
	case "maxLength":
		if s.MaxLength != nil {
			return fe.TooLong(int(*s.MaxLength))
		}
	case "minItems", "minProperties":
		fe.Rule, fe.Want, fe.Limit, fe.Count = core.RuleMinItems, core.TypeArray, int(s.MinItems), count(se.Value)
		if se.SchemaField == "minProperties" {
			fe.Want, fe.Limit = core.TypeObject, int(s.MinProps)
		}
		return fe
	case "maxItems":
		if s.MaxItems != nil {
			return fe.TooMany(core.TypeArray, int(*s.MaxItems), count(se.Value))
		}
	case "maxProperties":
		if s.MaxProps != nil {
			return fe.TooMany(core.TypeObject, int(*s.MaxProps), count(se.Value))
		}
	case "pattern":
		fe.Rule, fe.Reason = core.RulePattern, s.Pattern
		return fe
	case "format":
		if s.Format == "date-time" {
			return fe.NotA(core.TypeDatetime)
		}
	}
	// kin-openapi's reasons never include the value.
	return fe.Because(se.Reason)
}

// unsupportedProperty extracts the key of kin-openapi's additionalProperties
// violation (`property "nmae" is unsupported`).
func unsupportedProperty(reason string) (string, bool) {
	q, ok := strings.CutPrefix(reason, "property ")
	if !ok {
		return "", false
	}
	q, ok = strings.CutSuffix(q, " is unsupported")
	if !ok {
		return "", false
	}
	name, err := strconv.Unquote(q)
	return name, err == nil
}

func typeProblem(fe core.FieldError, want, got core.ValueType) core.FieldError {
	fe = fe.NotA(want)
	fe.Got = got
	return fe
}

// schemaType is the JSON type a schema asks for.
func schemaType(ref *openapi3.SchemaRef) core.ValueType {
	if ref == nil || ref.Value == nil {
		return core.TypeString
	}
	s := ref.Value
	if s.Type == nil || len(s.Type.Slice()) == 0 {
		for _, sub := range s.AllOf { // a nullable allOf wrapper of a typed schema
			if sub.Value != nil && sub.Value.Type != nil && len(sub.Value.Type.Slice()) > 0 {
				return schemaType(sub)
			}
		}
		return core.TypeString
	}
	switch t := s.Type.Slice()[0]; t {
	case "integer":
		return core.TypeInteger
	case "number":
		return core.TypeNumber
	case "boolean":
		return core.TypeBoolean
	case "object":
		return core.TypeObject
	case "array":
		return core.TypeArray
	case "string":
		if s.Format == "date-time" {
			return core.TypeDatetime
		}
	}
	return core.TypeString
}

// jsonType is the type of a decoded JSON value.
func jsonType(v any) core.ValueType {
	switch v := v.(type) {
	case string:
		return core.TypeString
	case bool:
		return core.TypeBoolean
	case float64:
		if v == math.Trunc(v) {
			return core.TypeInteger
		}
		return core.TypeNumber
	case map[string]any:
		return core.TypeObject
	case []any:
		return core.TypeArray
	}
	return ""
}

func count(v any) int {
	switch v := v.(type) {
	case []any:
		return len(v)
	case map[string]any:
		return len(v)
	}
	return 0
}

func integral(f *float64) (int, bool) {
	if f == nil || *f != math.Trunc(*f) || math.Abs(*f) > 1<<53 {
		return 0, false
	}
	return int(*f), true
}

// dedupe drops repeated problems of one field under one rule (a value can
// fail a rule once per allOf branch).
func dedupe(in []core.FieldError) []core.FieldError {
	seen := make(map[string]bool, len(in))
	out := in[:0]
	for _, fe := range in {
		k := fe.Name() + "\x00" + fe.Rule.String()
		if !seen[k] {
			seen[k] = true
			out = append(out, fe)
		}
	}
	return out
}

// bindingError converts a parameter binding error of the generated router
// (reached only when kin-openapi accepted a value the Go type cannot hold).
func bindingError(r *http.Request, err error) error {
	var (
		invalid  *apigen.InvalidParamFormatError
		required *apigen.RequiredParamError
		header   *apigen.RequiredHeaderError
		tooMany  *apigen.TooManyValuesForParamError
		unmarsh  *apigen.UnmarshalingParamError
	)
	switch {
	case errors.As(err, &invalid):
		field, p := paramField(r, invalid.ParamName)
		return typeProblem(field, schemaType(p), core.TypeString).Err()
	case errors.As(err, &unmarsh):
		field, p := paramField(r, unmarsh.ParamName)
		return typeProblem(field, schemaType(p), core.TypeString).Err()
	case errors.As(err, &required):
		field, _ := paramField(r, required.ParamName)
		return field.Required().Err()
	case errors.As(err, &header):
		field, _ := paramField(r, header.ParamName)
		return field.Required().Err()
	case errors.As(err, &tooMany):
		field, _ := paramField(r, tooMany.ParamName)
		return field.Because(fmt.Sprintf("Expected one value, got %d", tooMany.Count)).Err()
	}
	return core.FieldError{}.Because("Request parameters could not be read").Err()
}

// paramField names the routed operation's parameter called name.
func paramField(r *http.Request, name string) (core.FieldError, *openapi3.SchemaRef) {
	if st := stateFrom(r.Context()); st != nil && st.route != nil {
		route := st.route
		params := append(append(openapi3.Parameters(nil), route.PathItem.Parameters...), route.Operation.Parameters...)
		for _, p := range params {
			if p.Value != nil && strings.EqualFold(p.Value.Name, name) {
				return core.FieldError{In: core.Location(p.Value.In), Path: []string{p.Value.Name}}, p.Value.Schema
			}
		}
	}
	return core.Query(name), nil
}

// detailMessage renders one problem in the reference's wording.
func detailMessage(fe core.FieldError) string {
	switch fe.Rule {
	case core.RuleRequired:
		return "Field required"
	case core.RuleExtra:
		return "Extra inputs are not permitted"
	case core.RuleType:
		return typeMessage(fe.Want, fe.Got)
	case core.RuleEnum:
		return "Input should be " + orList(fe.Allowed)
	case core.RuleMin:
		return "Input should be greater than or equal to " + strconv.Itoa(fe.Limit)
	case core.RuleMax:
		return "Input should be less than or equal to " + strconv.Itoa(fe.Limit)
	case core.RuleMinLength:
		return fmt.Sprintf("%s should have at least %d character%s", lengthSubject(fe.Want), fe.Limit, plural(fe.Limit))
	case core.RuleMaxLength:
		return fmt.Sprintf("%s should have at most %d character%s", lengthSubject(fe.Want), fe.Limit, plural(fe.Limit))
	case core.RuleMinItems:
		return itemsMessage(fe, "at least")
	case core.RuleMaxItems:
		return itemsMessage(fe, "at most")
	case core.RulePattern:
		return "String should match pattern '" + fe.Reason + "'"
	case core.RuleNul:
		if fe.Want == core.TypeString || fe.Want == "" {
			return "String should not contain null characters"
		}
		return "Values should not contain null characters"
	case core.RuleUnstorable:
		return "String should not contain null or invalid characters"
	case core.RuleDepth:
		return fmt.Sprintf("Input should be nested at most %d levels deep", fe.Limit)
	case core.RuleURLScheme:
		return "URL scheme should be " + orList(fe.Allowed)
	case core.RuleEmail:
		return "value is not a valid email address: " + fe.Reason
	case core.RuleCrossField:
		return "Value error, " + fe.Reason
	}
	if fe.Reason == "" {
		return notSchema
	}
	return fe.Reason
}

func typeMessage(want, got core.ValueType) string {
	switch want {
	case core.TypeInteger:
		switch got {
		case core.TypeString:
			return "Input should be a valid integer, unable to parse string as an integer"
		case core.TypeNumber:
			return "Input should be a valid integer, got a number with a fractional part"
		}
		return "Input should be a valid integer"
	case core.TypeNumber:
		if got == core.TypeString {
			return "Input should be a valid number, unable to parse string as a number"
		}
		return "Input should be a valid number"
	case core.TypeBoolean:
		if got == core.TypeString {
			return "Input should be a valid boolean, unable to interpret input"
		}
		return "Input should be a valid boolean"
	case core.TypeObject:
		return "Input should be a valid dictionary"
	case core.TypeArray:
		return "Input should be a valid list"
	case core.TypeDatetime:
		return "Input should be a valid datetime"
	case core.TypeURL:
		return "Input should be a valid URL, relative URL without a base"
	}
	return "Input should be a valid string"
}

func lengthSubject(t core.ValueType) string {
	if t == core.TypeURL {
		return "URL"
	}
	return "String"
}

// itemsMessage is pydantic's too_short/too_long for lists and dicts.
func itemsMessage(fe core.FieldError, bound string) string {
	subject := "List"
	if fe.Want == core.TypeObject {
		subject = "Dictionary"
	}
	msg := fmt.Sprintf("%s should have %s %d item%s after validation", subject, bound, fe.Limit, plural(fe.Limit))
	if fe.Count > 0 {
		msg += ", not " + strconv.Itoa(fe.Count)
	}
	return msg
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// orList quotes values pydantic-style: 'a', 'b' or 'c'.
func orList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = "'" + v + "'"
	}
	if len(q) <= 1 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
