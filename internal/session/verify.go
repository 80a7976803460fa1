package session

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Checking a journal: every line must be exactly what steady wrote (its
// own bytes, not merely the same values: an extra field or a duplicate key
// is a change too), carry the hash of its content, and follow the line
// before it. A break is reported once, at the line where it shows; the
// lines after it are checked against it, so one removed line is one
// problem, not one per line that follows.

// MaxProblems is how many problems a verification lists; the rest are
// counted.
const MaxProblems = 10

// Problem is one break in a journal, at the line where it shows (0 for
// the journal as a whole: its end disagrees with its head).
type Problem struct {
	Line int
	Msg  string
}

func (p Problem) String() string {
	if p.Line == 0 {
		return p.Msg
	}
	return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
}

// Verification is what checking a journal found.
type Verification struct {
	// Events is the number of events read.
	Events int
	// Head is the journal's last event.
	Head Head
	// Problems are the first MaxProblems breaks, in the order of the file;
	// More counts the ones not listed.
	Problems []Problem
	More     int
	// Tail is the length of an incomplete last line: a write cut short
	// when steady or the machine stopped. Resume drops it.
	Tail int
	// Sealed is set when the journal ends with the seal of a closed
	// incident.
	Sealed bool
	// Checked names what the journal's end was held against and agreed
	// with: "its head file", "the head given".
	Checked []string
	// Notes are caveats that are not problems.
	Notes []string

	// keepsHead is set when the journal says it keeps a head file.
	keepsHead bool
	// hashes holds the hash of each event asked for (by sequence number).
	hashes map[int64]string
}

// OK reports whether the journal holds together.
func (v *Verification) OK() bool { return len(v.Problems) == 0 }

// Count is the number of problems found, listed or not.
func (v *Verification) Count() int { return len(v.Problems) + v.More }

// add records a problem, or counts it once MaxProblems are listed.
func (v *Verification) add(line int, format string, args ...any) {
	if len(v.Problems) < MaxProblems {
		v.Problems = append(v.Problems, Problem{Line: line, Msg: fmt.Sprintf(format, args...)})
		return
	}
	v.More++
}

// Summary says in one line what the check found.
func (v *Verification) Summary() string {
	switch {
	case v.OK():
		s := fmt.Sprintf("ok, %d events, hash chain intact, head %s", v.Events, v.Head)
		if v.Sealed {
			s += ", sealed"
		}
		if len(v.Checked) > 0 {
			s += "; agrees with " + strings.Join(v.Checked, " and ")
		}
		return s
	case v.Count() == 1:
		return fmt.Sprintf("NOT VERIFIED: 1 problem, at line %d (%d events read)", v.Problems[0].Line, v.Events)
	}
	return fmt.Sprintf("NOT VERIFIED: %d problems, the first at line %d (%d events read)", v.Count(), v.Problems[0].Line, v.Events)
}

// Head is the last event of a journal, by sequence number and hash: two
// journals with the same head hold the same events. Written SEQ:HASH.
type Head struct {
	Seq  int64
	Hash string
}

func (h Head) String() string { return fmt.Sprintf("%d:%s", h.Seq, h.Hash) }

// Short is the head with its hash cut to 12 digits, for screens.
func (h Head) Short() string {
	if len(h.Hash) > 12 {
		return fmt.Sprintf("%d:%s…", h.Seq, h.Hash[:12])
	}
	return h.String()
}

// ParseHead reads SEQ:HASH. The hash may be shortened to a prefix of at
// least 8 digits, as people copy them.
func ParseHead(s string) (Head, error) {
	seq, hash, ok := strings.Cut(strings.TrimSpace(s), ":")
	var h Head
	if _, err := fmt.Sscanf(seq, "%d", &h.Seq); !ok || err != nil || h.Seq < 0 || fmt.Sprint(h.Seq) != seq {
		return Head{}, fmt.Errorf("%q is not a head: want SEQ:HASH, e.g. 42:9f86d081884c7d65", s)
	}
	h.Hash = strings.TrimSuffix(strings.ToLower(hash), "…")
	if _, err := hex.DecodeString(h.Hash + strings.Repeat("0", len(h.Hash)%2)); err != nil || (h.Seq > 0 && len(h.Hash) < 8) || len(h.Hash) > 64 {
		return Head{}, fmt.Errorf("%q is not a head: the hash must be hexadecimal, 8 to 64 digits", s)
	}
	return h, nil
}

// Matches reports whether the event with this head's sequence number has
// a hash that h names (in full, or by a prefix).
func (h Head) Matches(hash string) bool {
	return h.Hash != "" && strings.HasPrefix(hash, h.Hash)
}

// VerifyFile checks the journal at path as Verify does, then holds its
// end against its head file and, when given, a head kept elsewhere
// (anchor): a journal cut short says "truncated after event N", one whose
// events differ from what the head records says "rewritten".
func VerifyFile(path string, anchor *Head) (*Verification, error) {
	v, _, _, err := verifyFile(path, anchor, false)
	return v, err
}

// verifyFile is VerifyFile, also returning the events and how the read
// went when keep is set (resume reads and checks in one pass).
func verifyFile(path string, anchor *Head, keep bool) (*Verification, []Event, ReadInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, ReadInfo{}, err
	}
	defer f.Close()
	hf, herr := ReadHeadFile(HeadPath(path))
	want := map[int64]string{}
	if herr == nil {
		want[hf.Head.Seq] = ""
		if hf.Next != nil {
			want[hf.Next.Seq] = ""
		}
	}
	if anchor != nil {
		want[anchor.Seq] = ""
	}
	v, events, info, err := verify(f, keep, want)
	if err != nil {
		return v, events, info, err
	}
	name := filepath.Base(HeadPath(path))
	switch {
	case errors.Is(herr, fs.ErrNotExist) && v.keepsHead:
		v.add(0, "its head file %s is missing: whether events were removed from its end cannot be told (compare its head with one kept elsewhere: --head)", name)
	case errors.Is(herr, fs.ErrNotExist):
		v.Notes = append(v.Notes, "no head file beside it (written before steady kept one): events removed from its end cannot be told without a head kept elsewhere (--head)")
	case herr != nil:
		v.add(0, "%v", herr)
	default:
		v.holdAgainst(hf, "its head file "+name)
	}
	if anchor != nil {
		v.holdAgainstAnchor(*anchor)
	}
	return v, events, info, nil
}

// hashAt returns the hash of event seq, when it was asked for and read.
func (v *Verification) hashAt(seq int64) (string, bool) {
	h, ok := v.hashes[seq]
	return h, ok && h != ""
}

// holdAgainst compares the journal's end with its head file.
func (v *Verification) holdAgainst(hf HeadFile, what string) {
	if hf.agrees(v.Head, v.hashAt) {
		v.Checked = append(v.Checked, "its head file")
		return
	}
	last, recorded := v.Head, hf.Head
	if hf.Next != nil && last.Seq >= hf.Next.Seq {
		// The event being written made it into the journal: the head
		// file's "next" is what the journal should end with.
		recorded = *hf.Next
	}
	switch h, ok := v.hashAt(recorded.Seq); {
	case last.Seq < recorded.Seq:
		v.add(0, "truncated after event %d: %s records event %d as the last (%s)", last.Seq, what, recorded.Seq, removed(recorded.Seq-last.Seq))
	case ok && h != recorded.Hash:
		v.add(0, "rewritten: event %d's hash is %s, %s records %s", recorded.Seq, short(h), what, short(recorded.Hash))
	default:
		v.add(0, "rewritten: %d event(s) after event %d, where %s ends the journal (added after steady wrote it)", last.Seq-recorded.Seq, recorded.Seq, what)
	}
}

// holdAgainstAnchor compares the journal with a head kept elsewhere,
// taken at some moment of the incident: the journal must hold that event
// unchanged; events after it were written after it was taken.
func (v *Verification) holdAgainstAnchor(a Head) {
	h, ok := v.hashAt(a.Seq)
	switch {
	case v.Head.Seq < a.Seq:
		v.add(0, "truncated after event %d: the head given names event %d (%s)", v.Head.Seq, a.Seq, removed(a.Seq-v.Head.Seq))
	case a.Seq > 0 && (!ok || !a.Matches(h)):
		v.add(0, "rewritten: event %d's hash is %s, not %s as given", a.Seq, short(h), a.Hash)
	default:
		v.Checked = append(v.Checked, "the head given")
		if n := v.Head.Seq - a.Seq; n > 0 {
			v.Notes = append(v.Notes, fmt.Sprintf("%d event(s) after the head given, written after it was taken", n))
		}
	}
}

func removed(n int64) string {
	if n == 1 {
		return "1 event removed"
	}
	return fmt.Sprintf("%d events removed", n)
}

func short(hash string) string {
	if len(hash) > 16 {
		return hash[:16] + "…"
	}
	return hash
}

// Verify checks a journal read from r: that every line is as steady wrote
// it and that the lines form one unbroken hash chain. Without its head
// file, events removed from its end cannot be told (VerifyFile can). The
// error is for a journal that could not be read at all.
func Verify(r io.Reader) (*Verification, error) {
	v, _, _, err := verify(r, false, nil)
	return v, err
}

// verify checks a journal, and returns its events and how the read went
// when keep is set. want names events whose hashes the caller needs.
func verify(r io.Reader, keep bool, want map[int64]string) (*Verification, []Event, ReadInfo, error) {
	vr := &verifier{v: &Verification{hashes: want}, want: want, keep: keep, wantSeq: 1}
	v := vr.v
	br := bufio.NewReaderSize(r, 64*1024)
	in := newInterner()
	var line []byte
	lineNo := 0
	for {
		var err error
		line, err = readLine(br, line[:0])
		if len(line) == 0 && err == io.EOF {
			break
		}
		lineNo++
		if err != nil && err != io.EOF {
			if errors.Is(err, errLineTooLong) {
				v.add(lineNo, "damaged: %v; the rest of the journal was not read", err)
				return v, vr.events, vr.info, nil
			}
			return v, vr.events, vr.info, err
		}
		complete := err == nil
		text := bytes.TrimSuffix(line, []byte("\n"))
		e, derr := decodeLine(text, in)
		switch {
		case (derr != nil || e.Type == "") && !complete:
			// A write cut short at the very end: not a break.
			v.Tail, vr.info.Truncated, vr.info.DroppedBytes = len(line), true, len(line)
			return v, vr.events, vr.info, nil
		case derr != nil:
			v.add(lineNo, "damaged: not valid JSON (%v)", derr)
			vr.resync = true
			continue
		case e.Type == "":
			v.add(lineNo, "damaged: not a journal event (no type)")
			vr.resync = true
			continue
		}
		vr.event(lineNo, text, e)
		vr.info.Lines = lineNo
		vr.info.GoodBytes += int64(len(line))
		if !complete {
			vr.info.Truncated = true
		}
	}
	return v, vr.events, vr.info, nil
}

// verifier is a journal being verified, line by line.
type verifier struct {
	v      *Verification
	info   ReadInfo
	events []Event // kept when keep is set
	keep   bool
	want   map[int64]string // seq → hash, filled in as the events are read
	// wantSeq and prev are the sequence number and the previous hash the
	// next event should have.
	wantSeq  int64
	prev     string
	sealedAt int64 // the seal's seq, until something follows it
	// resync is set after a line that could not be read: its successor
	// becomes the new base rather than a second problem.
	resync bool
}

// event checks one event that decoded: its own hash, its place in the
// chain, nothing after the seal; then it becomes the chain's head.
func (vr *verifier) event(lineNo int, text []byte, e Event) {
	v := vr.v
	if msg := checkLine(text, e); msg != "" {
		v.add(lineNo, "%s", msg)
	} else if !vr.resync {
		vr.checkOrder(lineNo, e)
	}
	if vr.sealedAt > 0 {
		v.add(lineNo, "event %d follows the seal (event %d closed the journal for good)", e.Seq, vr.sealedAt)
		vr.sealedAt = 0 // said once
	}
	switch e.Type {
	case TypeSealed:
		vr.sealedAt = e.Seq
	case TypeOpened:
		var o Opened
		if lineNo == 1 && e.Decode(&o) == nil {
			v.keepsHead = o.Head
		}
	}
	if _, ok := vr.want[e.Seq]; ok {
		vr.want[e.Seq] = e.Hash
	}
	vr.resync = false
	vr.wantSeq, vr.prev = e.Seq+1, e.Hash
	v.Events++
	v.Head = Head{Seq: e.Seq, Hash: e.Hash}
	v.Sealed = e.Type == TypeSealed
	if vr.keep {
		vr.events = append(vr.events, e)
	}
}

// checkOrder says when an event is not the one the chain expects next:
// lines removed, copied or rewritten.
func (vr *verifier) checkOrder(lineNo int, e Event) {
	switch {
	case e.Seq > vr.wantSeq:
		vr.v.add(lineNo, "%s missing: this line holds event %d where event %d was expected (lines were removed)", eventsBetween(vr.wantSeq, e.Seq-1), e.Seq, vr.wantSeq)
	case e.Seq < vr.wantSeq:
		vr.v.add(lineNo, "event %d again, where event %d was expected (a line was copied or moved)", e.Seq, vr.wantSeq)
	case e.Prev != vr.prev:
		vr.v.add(lineNo, "the chain is broken: this line does not follow the hash of line %d (one of the two was rewritten)", lineNo-1)
	}
}

// checkLine says what is wrong with one line on its own, or "": its hash
// must match its content, and its bytes must be the very ones steady
// writes for that content.
func checkLine(line []byte, e Event) string {
	hash := e.Hash
	e.Hash = ""
	body, err := json.Marshal(e)
	if err != nil {
		return "damaged: " + err.Error()
	}
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) != hash {
		return "altered: its content does not match its hash"
	}
	// body ends in "hash":""}; the line must be body with the hash in.
	stem := body[:len(body)-2]
	if !(len(line) == len(stem)+len(hash)+2 && bytes.HasPrefix(line, stem) && string(line[len(stem):len(line)-2]) == hash && bytes.HasSuffix(line, []byte(`"}`))) {
		return "altered: " + notAsWritten(line)
	}
	if k := duplicateKey(e.Data); k != "" {
		return fmt.Sprintf("altered: the key %q appears twice in its data", k)
	}
	return ""
}

// notAsWritten says how a line whose values hash correctly still differs
// from what steady writes: what it holds beyond them is not covered by the
// hash, so it is refused outright.
func notAsWritten(line []byte) string {
	if k := duplicateKey(line); k != "" {
		return fmt.Sprintf("the key %q appears twice", k)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var e Event
	if err := dec.Decode(&e); err != nil {
		return "it holds what steady does not write (" + strings.TrimPrefix(err.Error(), "json: ") + ")"
	}
	return "it is not as steady wrote it (spacing, escapes or the order of its keys changed)"
}

// duplicateKey returns a key that appears twice in one object of a JSON
// value, or "". A reader takes the last of two, so a line holding both
// could say one thing to steady and another to a person. raw must be valid
// JSON (every line is checked before); the scan is by hand because every
// event's data goes through it when a journal is resumed.
func duplicateKey(raw []byte) string {
	type frame struct {
		object bool
		keys   [][]byte
	}
	var stack []frame
	expectKey := false
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '{':
			stack = append(stack, frame{object: true})
			expectKey = true
		case '[':
			stack = append(stack, frame{})
			expectKey = false
		case '}', ']':
			stack = stack[:len(stack)-1]
			expectKey = false
		case ',':
			expectKey = len(stack) > 0 && stack[len(stack)-1].object
		case '"':
			end, escaped := i+1, false
			for end < len(raw) && raw[end] != '"' {
				if raw[end] == '\\' {
					end++
					escaped = true
				}
				end++
			}
			if expectKey && len(stack) > 0 {
				key := raw[i+1 : min(end, len(raw))]
				if escaped {
					var k string
					if json.Unmarshal(raw[i:min(end+1, len(raw))], &k) == nil {
						key = []byte(k)
					}
				}
				top := &stack[len(stack)-1]
				for _, k := range top.keys {
					if bytes.Equal(k, key) {
						return string(key)
					}
				}
				top.keys = append(top.keys, key)
				expectKey = false
			}
			i = end
		}
	}
	return ""
}

// eventsBetween names a run of missing events.
func eventsBetween(from, to int64) string {
	if from == to {
		return fmt.Sprintf("event %d", from)
	}
	return fmt.Sprintf("events %d to %d", from, to)
}
