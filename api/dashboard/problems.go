package dashboard

import (
	"strconv"
	"strings"

	"github.com/cueapi/cueapi/core"
)

// problemText words one validation problem for a person filling in the
// form ("retry.max_attempts: at most 10"). The JSON API renders the same
// structured problems in the protocol's wording.
func problemText(f core.FieldError) string {
	name := strings.TrimPrefix(f.Name(), "body")
	name = strings.TrimPrefix(name, ".")
	var msg string
	switch f.Rule {
	case core.RuleRequired:
		msg = "required"
	case core.RuleExtra:
		msg = "not accepted here"
	case core.RuleType:
		msg = "must be a valid " + string(f.Want)
	case core.RuleEnum:
		msg = "must be one of " + strings.Join(f.Allowed, ", ")
	case core.RuleMin:
		msg = "at least " + strconv.Itoa(f.Limit)
	case core.RuleMax:
		msg = "at most " + strconv.Itoa(f.Limit)
	case core.RuleMinLength:
		msg = "at least " + strconv.Itoa(f.Limit) + " characters"
	case core.RuleMaxLength:
		msg = "at most " + strconv.Itoa(f.Limit) + " characters"
	case core.RuleMinItems:
		msg = "at least " + strconv.Itoa(f.Limit) + " entries"
	case core.RuleMaxItems:
		msg = "at most " + strconv.Itoa(f.Limit) + " entries"
	case core.RulePattern:
		msg = "does not have the expected format"
	case core.RuleNul, core.RuleUnstorable:
		msg = "contains characters that cannot be stored"
	case core.RuleDepth:
		msg = "nested more than " + strconv.Itoa(f.Limit) + " levels deep"
	case core.RuleURLScheme:
		msg = "the URL must start with " + strings.Join(f.Allowed, ":// or ") + "://"
	case core.RuleEmail:
		msg = "not an email address (" + f.Reason + ")"
	default: // RuleInvalid, RuleCrossField: the reason says it all
		msg = f.Reason
		if msg == "" {
			msg = "invalid"
		}
	}
	if name == "" {
		return msg
	}
	return name + ": " + msg
}

// formErr is a problem with one form field, named by its dotted body path.
func formErr(field, reason string) error {
	return core.Body(strings.Split(field, ".")...).Because(reason).Err()
}
