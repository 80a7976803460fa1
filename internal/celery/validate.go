package celery

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every error about a message that a Celery
// worker could not process. Such a message must never reach a real worker:
// it kills the worker process.
var ErrMalformed = errors.New("malformed task message")

// Validate checks raw, a message as stored in the queue, against what the
// Celery 5 worker reads without checking: a message failing here would kill
// the worker (a KeyError, TypeError or ValueError escaping its message loop).
func Validate(raw []byte) error {
	_, _, err := DecodeMessage(raw)
	return err
}

// required holds the fields the worker indexes without checking; pointers
// tell a missing field from an empty one.
type required struct {
	Body        *string `json:"body"`
	ContentType *string `json:"content-type"`
	Headers     *struct {
		Task *string `json:"task"`
		ID   *string `json:"id"`
	} `json:"headers"`
	Properties *struct {
		DeliveryTag  *string `json:"delivery_tag"`
		DeliveryInfo *struct {
			Exchange   *string `json:"exchange"`
			RoutingKey *string `json:"routing_key"`
		} `json:"delivery_info"`
	} `json:"properties"`
}

// DecodeMessage parses and validates a protocol 2 message as stored in the
// queue. Errors wrap ErrMalformed and name the field at fault.
func DecodeMessage(raw []byte) (Message, Body, error) {
	var req required
	if err := json.Unmarshal(raw, &req); err != nil {
		return Message{}, Body{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	missing := func(field string) (Message, Body, error) {
		return Message{}, Body{}, fmt.Errorf("%w: %s is missing", ErrMalformed, field)
	}
	switch h, p := req.Headers, req.Properties; {
	case req.Body == nil:
		return missing("body")
	case req.ContentType == nil:
		return missing("content-type")
	case h == nil:
		return missing("headers")
	case h.Task == nil || *h.Task == "":
		return missing("headers.task")
	case h.ID == nil || *h.ID == "":
		return missing("headers.id")
	case p == nil:
		return missing("properties")
	case p.DeliveryTag == nil:
		return missing("properties.delivery_tag")
	case p.DeliveryInfo == nil:
		return missing("properties.delivery_info")
	// The default exchange is "", so only absence is fatal.
	case p.DeliveryInfo.Exchange == nil:
		return missing("properties.delivery_info.exchange")
	case p.DeliveryInfo.RoutingKey == nil:
		return missing("properties.delivery_info.routing_key")
	}
	var m Message
	if err := json.Unmarshal(raw, &m); err != nil {
		return Message{}, Body{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if m.ContentType != "application/json" {
		return Message{}, Body{}, fmt.Errorf("%w: content-type %q: only application/json is spoken here", ErrMalformed, m.ContentType)
	}
	if m.ContentEncoding != "" && m.ContentEncoding != "utf-8" {
		return Message{}, Body{}, fmt.Errorf("%w: content-encoding %q: only utf-8 is spoken here", ErrMalformed, m.ContentEncoding)
	}
	if m.Properties.BodyEncoding != "base64" {
		return Message{}, Body{}, fmt.Errorf("%w: properties.body_encoding %q: kombu's Redis transport always uses base64", ErrMalformed, m.Properties.BodyEncoding)
	}
	body, err := m.DecodeBody()
	if err != nil {
		return Message{}, Body{}, err
	}
	return m, body, nil
}
