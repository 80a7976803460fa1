package session

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Replaying a long incident decodes every journal line, and encoding/json
// spends most of that time validating each line and then walking it again
// by reflection. Lines steady wrote itself all have one shape, so they are
// read directly here; any other line goes through json.Unmarshal. Either
// way a line decodes to exactly the same Event (or error), so resume,
// reports and Verify's hash check see what they always saw.

// decodeLine decodes one journal line, without its newline, as
// json.Unmarshal would into an Event. Data never shares line's memory, so
// the caller may reuse line.
func decodeLine(line []byte, in *interner) (Event, error) {
	e, ok := parseSealed(line, in)
	if !ok {
		var err error
		if e, err = unmarshalLine(line); err != nil {
			return e, err
		}
	}
	in.hash = e.Hash
	return e, nil
}

// unmarshalLine is the general path. It is a function of its own so that
// only it pays for the Event that json.Unmarshal makes escape to the heap.
func unmarshalLine(line []byte) (Event, error) {
	var e Event
	err := json.Unmarshal(line, &e)
	return e, err
}

// parseSealed reads a line in the shape seal writes: compact JSON with
// Event's fields in declaration order (the omitempty ones perhaps absent),
// an integer seq, an object for data and envelope strings that need no
// unescaping. It reports false for anything else (an edited, reordered,
// escaped or damaged line), and the caller falls back to encoding/json.
func parseSealed(line []byte, in *interner) (e Event, ok bool) {
	c := cursor{rest: line}
	c.lit(`{"seq":`)
	e.Seq = c.seq()
	c.lit(`,"time":`)
	when := c.quoted()
	c.lit(`,"actor":{"name":`)
	e.Actor.Name = in.str(c.str())
	c.lit(`,"via":`)
	e.Actor.Via = in.str(c.str())
	if c.opt(`,"fingerprint":`) {
		e.Actor.Fingerprint = in.str(c.str())
	}
	c.lit(`,"role":`)
	e.Actor.Role = Role(in.str(c.str()))
	c.lit(`},"type":`)
	e.Type = in.str(c.str())
	if c.opt(`,"data":`) {
		e.Data = c.object()
	}
	c.lit(`,"prev":`)
	e.Prev = in.prev(c.str())
	c.lit(`,"hash":`)
	e.Hash = string(c.str())
	c.lit(`}`)
	if c.bad || len(c.rest) > 0 {
		return Event{}, false
	}
	// encoding/json hands time.Time its quoted text as is; do the same so
	// the parsed time (and its location) is identical.
	if e.Time.UnmarshalJSON(when) != nil {
		return Event{}, false
	}
	return e, true
}

// cursor walks a line left to right. The first mismatch sets bad, after
// which every step is a no-op, so parseSealed checks once at the end.
type cursor struct {
	rest []byte
	bad  bool
}

// lit consumes s, which must come next.
func (c *cursor) lit(s string) {
	if !c.opt(s) {
		c.bad = true
	}
}

// opt consumes s if it comes next, and reports whether it did.
func (c *cursor) opt(s string) bool {
	if c.bad || !bytes.HasPrefix(c.rest, []byte(s)) {
		return false
	}
	c.rest = c.rest[len(s):]
	return true
}

// seq reads a sequence number. Only a plain decimal of at most 18 digits
// is taken, which cannot overflow an int64 and which encoding/json would
// read to the same value; any other number form falls back.
func (c *cursor) seq() int64 {
	if c.bad {
		return 0
	}
	i := 0
	for i < len(c.rest) && i <= 18 && '0' <= c.rest[i] && c.rest[i] <= '9' {
		i++
	}
	if i == 0 || i > 18 || (c.rest[0] == '0' && i > 1) {
		c.bad = true
		return 0
	}
	var n int64
	for _, d := range c.rest[:i] {
		n = n*10 + int64(d-'0')
	}
	c.rest = c.rest[i:]
	return n
}

// quoted reads a JSON string with its quotes. Only strings whose bytes are
// their value are taken: valid UTF-8 without backslashes or control
// characters, which encoding/json would return unchanged.
func (c *cursor) quoted() []byte {
	if c.bad || len(c.rest) == 0 || c.rest[0] != '"' {
		c.bad = true
		return nil
	}
	ascii := true
	for end := 1; end < len(c.rest); end++ {
		switch b := c.rest[end]; {
		case b == '"':
			if !ascii && !utf8.Valid(c.rest[1:end]) {
				c.bad = true
				return nil
			}
			q := c.rest[:end+1]
			c.rest = c.rest[end+1:]
			return q
		case b < 0x20 || b == '\\':
			c.bad = true
			return nil
		case b >= utf8.RuneSelf:
			ascii = false
		}
	}
	c.bad = true
	return nil
}

// str reads a string as quoted does, and returns its value.
func (c *cursor) str() []byte {
	q := c.quoted()
	if c.bad {
		return nil
	}
	return q[1 : len(q)-1]
}

// object reads a JSON object and returns a copy of its bytes. Its end is
// found by counting brackets outside strings; json.Valid then checks the
// whole value, as json.Unmarshal checks a line before filling in a
// RawMessage, so a malformed payload still makes the line invalid.
func (c *cursor) object() json.RawMessage {
	if c.bad || len(c.rest) == 0 || c.rest[0] != '{' {
		c.bad = true
		return nil
	}
	depth, inString := 0, false
	for i := 0; i < len(c.rest); i++ {
		switch b := c.rest[i]; {
		case inString:
			if b == '\\' {
				i++ // the escaped byte cannot end the string
			} else if b == '"' {
				inString = false
			}
		case b == '"':
			inString = true
		case b == '{' || b == '[':
			depth++
		case b == '}' || b == ']':
			depth--
			if depth == 0 {
				v := c.rest[:i+1]
				if !json.Valid(v) {
					c.bad = true
					return nil
				}
				c.rest = c.rest[i+1:]
				return append(json.RawMessage(nil), v...)
			}
		}
	}
	c.bad = true
	return nil
}

// interner shares one copy of the strings that repeat from line to line,
// saving an allocation per field in a long journal: actor fields and event
// types, and each hash, which the next line repeats as its prev.
type interner struct {
	seen map[string]string
	hash string // the hash of the line read last
}

func newInterner() *interner { return &interner{seen: map[string]string{}} }

// maxInterned bounds the table, so a journal of ever-new names costs no
// more than plain copies.
const maxInterned = 256

func (in *interner) str(b []byte) string {
	if s, ok := in.seen[string(b)]; ok { // the lookup does not allocate
		return s
	}
	s := string(b)
	if len(in.seen) < maxInterned {
		in.seen[s] = s
	}
	return s
}

// prev returns b as a string, shared with the last hash when it is one.
func (in *interner) prev(b []byte) string {
	if string(b) == in.hash {
		return in.hash
	}
	return string(b)
}
