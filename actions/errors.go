package actions

import "fmt"

// NotConfiguredError says an action cannot be planned because a setting it
// depends on is empty. Callers tell it apart from a failure of the systems:
// the fix is in steady.yaml (or a flag), not in the application.
type NotConfiguredError struct {
	// Action is the action's id.
	Action string
	// Key is the steady.yaml key to set, e.g. "django.restart".
	Key string
	// Why says what the action needs it for.
	Why string
	// Example is a steady.yaml fragment (or a flag) that would do.
	Example string
}

func (e *NotConfiguredError) Error() string {
	msg := fmt.Sprintf("%s is not set: %s", e.Key, e.Why)
	if e.Example != "" {
		msg += "; for example:\n" + e.Example
	}
	return msg
}

// manageExample is how steady.yaml (or the flag) names the manage command.
const manageExample = "  --manage 'python3 manage.py' (or STEADY_MANAGE), or in steady.yaml:\n  django:\n    manage: docker compose exec -T web python manage.py"

// needManage returns the configured manage command prefix, or a
// NotConfiguredError for action.
func needManage(env *Env, action, why string) (string, error) {
	m := env.Target.Config().Django.Manage
	if m == "" {
		return "", &NotConfiguredError{Action: action, Key: "django.manage", Why: why, Example: manageExample}
	}
	return m, nil
}
