package celery

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// Task is one task invocation.
type Task struct {
	// Name is the registered task name, e.g. calculations.tasks.recalculate_clinician.
	Name string
	// Args and Kwargs must be JSON-encodable; nil means none.
	Args   []any
	Kwargs map[string]any
	// ID is the task id; empty means a new random UUID.
	ID string
}

// Message is a task message as kombu stores it in the Redis queue. Field
// order follows Celery's, so encoded messages read like the worker's own.
type Message struct {
	// Body is base64 of the JSON array [args, kwargs, embed].
	Body            string     `json:"body"`
	ContentEncoding string     `json:"content-encoding"`
	ContentType     string     `json:"content-type"`
	Headers         Headers    `json:"headers"`
	Properties      Properties `json:"properties"`
}

// Headers are the protocol 2 message headers.
type Headers struct {
	Lang     string  `json:"lang"`
	Task     string  `json:"task"`
	ID       string  `json:"id"`
	Shadow   *string `json:"shadow"`
	ETA      *string `json:"eta"`
	Expires  *string `json:"expires"`
	Group    *string `json:"group"`
	GroupIdx *int    `json:"group_index"`
	Retries  int     `json:"retries"`
	// TimeLimit is [soft, hard] in seconds; null means the worker's default.
	TimeLimit    [2]*float64 `json:"timelimit"`
	RootID       string      `json:"root_id"`
	ParentID     *string     `json:"parent_id"`
	ArgsRepr     string      `json:"argsrepr"`
	KwargsRepr   string      `json:"kwargsrepr"`
	Origin       string      `json:"origin"`
	IgnoreResult bool        `json:"ignore_result"`
}

// Properties are kombu's message properties.
type Properties struct {
	CorrelationID string       `json:"correlation_id"`
	ReplyTo       string       `json:"reply_to"`
	DeliveryMode  int          `json:"delivery_mode"`
	DeliveryInfo  DeliveryInfo `json:"delivery_info"`
	Priority      int          `json:"priority"`
	BodyEncoding  string       `json:"body_encoding"`
	DeliveryTag   string       `json:"delivery_tag"`
}

// DeliveryInfo says where the message was routed.
type DeliveryInfo struct {
	Exchange   string `json:"exchange"`
	RoutingKey string `json:"routing_key"`
}

// Embed is the third element of the body: workflow links, all unused here.
type Embed struct {
	Callbacks any `json:"callbacks"`
	Errbacks  any `json:"errbacks"`
	Chain     any `json:"chain"`
	Chord     any `json:"chord"`
}

// Body is a decoded message body.
type Body struct {
	Args   []any
	Kwargs map[string]any
	Embed  Embed
}

// argsReprMax is Celery's argsrepr_maxsize: the reprs are for logs only.
const argsReprMax = 1024

// origin names this process the way Celery names a producer (gen<pid>@<host>).
var origin = func() string {
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	return fmt.Sprintf("steady%d@%s", os.Getpid(), host)
}()

// replyTo plays the part of Celery's app.oid: one id per producer process.
var replyTo = newUUID()

// NewMessage builds the protocol 2 message of t for queue, with every field
// the worker reads. It fails when the task has no name or its arguments
// cannot be encoded as JSON.
func NewMessage(t Task, queue string) (Message, error) {
	if t.Name == "" {
		return Message{}, errors.New("build task message: the task has no name")
	}
	if queue == "" {
		return Message{}, fmt.Errorf("build message of task %s: no queue given", t.Name)
	}
	args, kwargs := t.Args, t.Kwargs
	if args == nil {
		args = []any{}
	}
	if kwargs == nil {
		kwargs = map[string]any{}
	}
	body, err := pyJSON([]any{args, kwargs, Embed{}})
	if err != nil {
		return Message{}, fmt.Errorf("build message of task %s: arguments are not JSON: %w", t.Name, err)
	}
	id := t.ID
	if id == "" {
		id = newUUID()
	}
	return Message{
		Body:            base64.StdEncoding.EncodeToString(body),
		ContentEncoding: "utf-8",
		ContentType:     "application/json",
		Headers: Headers{
			Lang:       "py",
			Task:       t.Name,
			ID:         id,
			RootID:     id,
			ArgsRepr:   truncate(pyReprArgs(args), argsReprMax),
			KwargsRepr: truncate(pyRepr(kwargs), argsReprMax),
			Origin:     origin,
		},
		Properties: Properties{
			CorrelationID: id,
			ReplyTo:       replyTo,
			DeliveryMode:  2,
			DeliveryInfo:  DeliveryInfo{Exchange: "", RoutingKey: queue},
			Priority:      0,
			BodyEncoding:  "base64",
			DeliveryTag:   newUUID(),
		},
	}, nil
}

// Encode returns the message as kombu writes it: JSON with Python's
// separators (", " and ": ") and non-ASCII escaped.
func (m Message) Encode() ([]byte, error) {
	b, err := pyJSON(m)
	if err != nil {
		return nil, fmt.Errorf("encode message of task %s: %w", m.Headers.Task, err)
	}
	return b, nil
}

// DecodeBody decodes the base64 JSON body [args, kwargs, embed].
func (m Message) DecodeBody() (Body, error) {
	raw, err := base64.StdEncoding.DecodeString(m.Body)
	if err != nil {
		return Body{}, fmt.Errorf("%w: body is not base64: %v", ErrMalformed, err)
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil {
		return Body{}, fmt.Errorf("%w: body is not a JSON array: %v", ErrMalformed, err)
	}
	if len(parts) != 3 {
		return Body{}, fmt.Errorf("%w: body has %d elements, the worker needs 3 ([args, kwargs, embed])", ErrMalformed, len(parts))
	}
	var b Body
	if err := json.Unmarshal(parts[0], &b.Args); err != nil || b.Args == nil {
		return Body{}, fmt.Errorf("%w: body args are not a list", ErrMalformed)
	}
	if err := json.Unmarshal(parts[1], &b.Kwargs); err != nil || b.Kwargs == nil {
		return Body{}, fmt.Errorf("%w: body kwargs are not an object", ErrMalformed)
	}
	if err := json.Unmarshal(parts[2], &b.Embed); err != nil {
		return Body{}, fmt.Errorf("%w: body embed is not an object", ErrMalformed)
	}
	return b, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// newUUID returns a random (version 4) UUID, as Celery's task ids are.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails: crypto/rand crashes the program instead
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
