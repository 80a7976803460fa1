package celery

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// celeryMessage is what Celery 5.2's apply_async wrote for
// recalculate_clinician(7, '2025-03-01', '2025-03-31') with a fixed task id;
// reply_to, delivery_tag and origin were replaced by the fixed values below.
const (
	goldenID          = "0b7c6e52-3f1d-4a8e-9c2b-5d4e6f7a8b9c"
	goldenReplyTo     = "c0ffee00-0000-4000-8000-000000000001"
	goldenDeliveryTag = "c0ffee00-0000-4000-8000-000000000002"
	goldenOrigin      = "gen1234@clinic-web-1"
)

func recalculateTask(id string) Task {
	return Task{Name: "calculations.tasks.recalculate_clinician", Args: []any{7, "2025-03-01", "2025-03-31"}, ID: id}
}

func TestMessageIsByteForByteWhatCeleryWrites(t *testing.T) {
	want, err := os.ReadFile("testdata/recalculate_clinician.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMessage(recalculateTask(goldenID), "celery")
	if err != nil {
		t.Fatal(err)
	}
	m.Properties.ReplyTo, m.Properties.DeliveryTag, m.Headers.Origin = goldenReplyTo, goldenDeliveryTag, goldenOrigin
	got, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != strings.TrimSpace(string(want)) {
		t.Errorf("message differs from Celery's\n got: %s\nwant: %s", got, want)
	}
}

func TestNewMessageFillsEveryFieldTheWorkerNeeds(t *testing.T) {
	m, err := NewMessage(Task{Name: "x.y"}, "reports")
	if err != nil {
		t.Fatal(err)
	}
	h, p := m.Headers, m.Properties
	for name, v := range map[string]string{
		"headers.id": h.ID, "headers.root_id": h.RootID, "properties.correlation_id": p.CorrelationID,
		"properties.reply_to": p.ReplyTo, "properties.delivery_tag": p.DeliveryTag, "headers.origin": h.Origin,
	} {
		if v == "" {
			t.Errorf("%s is empty", name)
		}
	}
	if h.ID != h.RootID || h.ID != p.CorrelationID {
		t.Errorf("id %s, root_id %s and correlation_id %s must agree for a task without parent", h.ID, h.RootID, p.CorrelationID)
	}
	if p.DeliveryInfo.RoutingKey != "reports" {
		t.Errorf("routing_key = %q, want the queue", p.DeliveryInfo.RoutingKey)
	}
	body, err := base64.StdEncoding.DecodeString(m.Body)
	if err != nil {
		t.Fatal(err)
	}
	if want := `[[], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]`; string(body) != want {
		t.Errorf("body of a task without arguments = %s, want %s", body, want)
	}
	if h.ArgsRepr != "()" || h.KwargsRepr != "{}" {
		t.Errorf("argsrepr, kwargsrepr = %q, %q; want (), {}", h.ArgsRepr, h.KwargsRepr)
	}
	other, _ := NewMessage(Task{Name: "x.y"}, "reports")
	if other.Headers.ID == h.ID || other.Properties.DeliveryTag == p.DeliveryTag {
		t.Error("two messages share a task id or delivery tag")
	}
}

func TestNewMessageRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		task  Task
		queue string
	}{
		"no task name":           {Task{}, "celery"},
		"no queue":               {Task{Name: "x.y"}, ""},
		"arguments are not JSON": {Task{Name: "x.y", Args: []any{func() {}}}, "celery"},
		"kwargs are not JSON":    {Task{Name: "x.y", Kwargs: map[string]any{"c": make(chan int)}}, "celery"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewMessage(tc.task, tc.queue); err == nil {
				t.Error("NewMessage succeeded")
			}
		})
	}
}

// Each case removes or breaks one thing in a valid message. The "kills the
// worker" cases are the ones a real Celery 5 worker dies on (the package
// doc says how; this package's worker test reproduces them): a message like
// that must never be pushed.
func TestValidate(t *testing.T) {
	valid := func() map[string]any {
		m, err := NewMessage(recalculateTask(""), "celery")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := m.Encode()
		var tree map[string]any
		if err := json.Unmarshal(raw, &tree); err != nil {
			t.Fatal(err)
		}
		return tree
	}
	section := func(tree map[string]any, name string) map[string]any { return tree[name].(map[string]any) }
	body := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name   string
		break_ func(map[string]any)
		ok     bool
	}{
		{"valid", func(map[string]any) {}, true},
		{"empty exchange is the default exchange", func(m map[string]any) {
			section(section(m, "properties"), "delivery_info")["exchange"] = ""
		}, true},
		{"kills the worker: no delivery_tag", func(m map[string]any) { delete(section(m, "properties"), "delivery_tag") }, false},
		{"kills the worker: no delivery_info", func(m map[string]any) { delete(section(m, "properties"), "delivery_info") }, false},
		{"kills the worker: no exchange", func(m map[string]any) {
			delete(section(section(m, "properties"), "delivery_info"), "exchange")
		}, false},
		{"kills the worker: no routing_key", func(m map[string]any) {
			delete(section(section(m, "properties"), "delivery_info"), "routing_key")
		}, false},
		{"kills the worker: no content-type", func(m map[string]any) { delete(m, "content-type") }, false},
		{"kills the worker: no headers.id", func(m map[string]any) { delete(section(m, "headers"), "id") }, false},
		{"kills the worker: two-element body", func(m map[string]any) { m["body"] = body(`[[1], {}]`) }, false},
		{"no headers.task", func(m map[string]any) { delete(section(m, "headers"), "task") }, false},
		{"empty task name", func(m map[string]any) { section(m, "headers")["task"] = "" }, false},
		{"numeric task id", func(m map[string]any) { section(m, "headers")["id"] = 7 }, false},
		{"pickle content", func(m map[string]any) { m["content-type"] = "application/x-python-serialize" }, false},
		{"body not base64", func(m map[string]any) { m["body"] = "[[], {}, {}]" }, false},
		{"body_encoding not base64", func(m map[string]any) { section(m, "properties")["body_encoding"] = "utf-8" }, false},
		{"args not a list", func(m map[string]any) { m["body"] = body(`[{}, {}, {}]`) }, false},
		{"kwargs not an object", func(m map[string]any) { m["body"] = body(`[[], [], {}]`) }, false},
		{"null embed is fine", func(m map[string]any) { m["body"] = body(`[[], {}, null]`) }, true},
		{"no headers at all", func(m map[string]any) { delete(m, "headers") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree := valid()
			tc.break_(tree)
			raw, _ := json.Marshal(tree)
			err := Validate(raw)
			if tc.ok && err != nil {
				t.Errorf("Validate = %v, want nil", err)
			}
			if !tc.ok && !errors.Is(err, ErrMalformed) {
				t.Errorf("Validate = %v, want ErrMalformed", err)
			}
		})
	}
	if err := Validate([]byte("not json")); !errors.Is(err, ErrMalformed) {
		t.Errorf("Validate(not json) = %v", err)
	}
}

func TestPythonRepr(t *testing.T) {
	for _, tc := range []struct {
		args []any
		want string
	}{
		{nil, "()"},
		{[]any{7}, "(7,)"},
		{[]any{7, "2025-03-01", "2025-03-31"}, "(7, '2025-03-01', '2025-03-31')"},
		{[]any{"it's"}, `("it's",)`},
		{[]any{`say "it's"`}, `('say "it\'s"',)`},
		{[]any{"a\nb\\c\x01"}, `('a\nb\\c\x01',)`},
		{[]any{"Zoë"}, "('Zoë',)"},
		{[]any{true, false, nil}, "(True, False, None)"},
		// Go encodes 1.0 as 1, so the worker gets the int 1; floats keep Python's repr.
		{[]any{1.0, 2.5, 0.0001, 0.00001, 1e21, 1234567.5}, "(1, 2.5, 0.0001, 1e-05, 1e+21, 1234567.5)"},
		{[]any{[]int{1, 2}, map[string]any{"b": 1, "a": "x"}}, "([1, 2], {'a': 'x', 'b': 1})"},
		{[]any{struct {
			ID int `json:"id"`
		}{3}}, "({'id': 3},)"},
	} {
		if got := pyReprArgs(tc.args); got != tc.want {
			t.Errorf("pyReprArgs(%#v) = %s, want %s", tc.args, got, tc.want)
		}
	}
}

func TestPythonJSON(t *testing.T) {
	got, err := pyJSON(map[string]any{"a": []any{1, "x,y: z"}, "b": "Zoë 🙂 <&>", "c": `q"\`})
	if err != nil {
		t.Fatal(err)
	}
	// json.dumps({"a": [1, "x,y: z"], "b": "Zoë 🙂 <&>", "c": 'q"\\'})
	want := `{"a": [1, "x,y: z"], "b": "Zo\u00eb \ud83d\ude42 <&>", "c": "q\"\\"}`
	if string(got) != want {
		t.Errorf("pyJSON =\n %s\nwant\n %s", got, want)
	}
}
