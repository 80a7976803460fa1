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
	"os"
	"slices"
	"sync"
	"syscall"
)

// Journal is an append-only, hash-chained JSONL file of events. Every
// append is fsync'd before it returns, and is whole or not at all: a line
// the disk took only part of is cut off again, so the file always ends
// with its last whole event.
type Journal struct {
	mu   sync.Mutex
	f    *os.File
	path string
	seq  int64
	last string // hash of the last event
	// size is the length of the file up to the end of its last whole
	// event: where a failed write is cut back to.
	size int64
	// damaged is set when a failed write could not be cut back; nothing
	// is written after a partial line, so every later append fails.
	damaged error
	// head keeps the head file beside the journal.
	head *headWriter
	// sealed is set once the seal is written: the journal is complete.
	sealed bool
}

// CreateJournal creates a new journal file; it never overwrites one.
func CreateJournal(path string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	if err := lock(f, path); err != nil {
		f.Close()
		return nil, err
	}
	head, err := createHead(path)
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return &Journal{f: f, path: path, head: head}, nil
}

// ErrLocked means another steady process has the journal open for writing.
var ErrLocked = errors.New("the incident is open in another steady process")

// lock takes an exclusive advisory lock on the journal for as long as the
// file stays open, so two processes never interleave lines (which would
// break the hash chain). The lock goes away with the process, even on kill -9.
func lock(f *os.File, path string) error {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("%s: %w (work in that process, or wait for it to end)", path, ErrLocked)
		}
		return fmt.Errorf("lock journal %s: %w", path, err)
	}
	return nil
}

// Path returns the journal's file name.
func (j *Journal) Path() string { return j.path }

// Head returns the journal's last event.
func (j *Journal) Head() Head {
	j.mu.Lock()
	defer j.mu.Unlock()
	return Head{Seq: j.seq, Hash: j.last}
}

// ErrSealed is returned for an event offered after the journal's seal.
var ErrSealed = errors.New("the incident is closed and its journal sealed: it takes no more events")

// WriteError is an event the journal could not record: the disk refused
// the line (full, or failing) or would not sync it. The journal was cut
// back to its last whole event, so it still verifies and resumes; the
// event is not in it. Damaged is set when even that cut failed: the file
// then ends in a partial line and steady writes nothing more to it.
type WriteError struct {
	Path    string
	Type    string // the event's type
	Err     error
	Damaged bool
}

func (e *WriteError) Error() string {
	if e.Damaged {
		return fmt.Sprintf("journal %s: %s not recorded, and the partial line could not be cut off (%v): steady writes nothing more to this journal", e.Path, e.Type, e.Err)
	}
	return fmt.Sprintf("journal %s: %s not recorded: %v (the journal still ends with its last whole event)", e.Path, e.Type, e.Err)
}

func (e *WriteError) Unwrap() error { return e.Err }

// Append assigns the next sequence number and the chain hashes to e,
// writes it as one line and syncs the file. The event as written is
// returned. On failure (a *WriteError) nothing of e stays in the file and
// the next event takes its sequence number.
func (j *Journal) Append(e Event) (Event, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return Event{}, errors.New("journal is closed")
	}
	if j.damaged != nil {
		return Event{}, &WriteError{Path: j.path, Type: e.Type, Err: j.damaged, Damaged: true}
	}
	if j.sealed {
		return Event{}, ErrSealed
	}
	e.Seq = j.seq + 1
	e.Prev = j.last
	line, err := seal(&e)
	if err != nil {
		return Event{}, err
	}
	head := Head{Seq: j.seq, Hash: j.last}
	next := Head{Seq: e.Seq, Hash: e.Hash}
	if err := j.head.write(HeadFile{Head: head, Next: &next}, true); err != nil {
		return Event{}, &WriteError{Path: j.path, Type: e.Type, Err: err}
	}
	if err := j.writeLine(append(line, '\n')); err != nil {
		return Event{}, &WriteError{Path: j.path, Type: e.Type, Err: err, Damaged: j.damaged != nil}
	}
	j.seq, j.last = e.Seq, e.Hash
	// Unsynced: should it be lost, the file still says the event was
	// being written, which the journal bears out.
	_ = j.head.write(HeadFile{Head: next}, false)
	if e.Type == TypeSealed {
		j.sealed = true
	}
	return e, nil
}

// writeLine appends one line and syncs it, or leaves the file as it was:
// a short write (a full disk takes what fits) or a failed sync is cut back
// to the end of the last whole event. Were the partial line left, the
// next event would be written onto it and the journal broken mid-file.
func (j *Journal) writeLine(line []byte) error {
	n, err := j.f.Write(line)
	if err == nil && n < len(line) {
		err = io.ErrShortWrite
	}
	if err == nil {
		err = j.f.Sync()
	}
	if err == nil {
		j.size += int64(len(line))
		return nil
	}
	if terr := j.f.Truncate(j.size); terr != nil {
		j.damaged = fmt.Errorf("%v, then cutting back to %d bytes: %v", err, j.size, terr)
		return j.damaged
	}
	// The cut must reach the disk too, or a crash could bring the
	// partial line back.
	_ = j.f.Sync()
	return err
}

// Close closes the file.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	if herr := j.head.close(); err == nil {
		err = herr
	}
	return err
}

// seal computes e.Hash over the event written with an empty hash, and
// returns the line to write.
func seal(e *Event) ([]byte, error) {
	e.Hash = ""
	body, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.Type, err)
	}
	sum := sha256.Sum256(body)
	e.Hash = hex.EncodeToString(sum[:])
	return json.Marshal(e)
}

// ReadInfo describes how a journal read went.
type ReadInfo struct {
	// Lines is the number of complete lines read.
	Lines int
	// Truncated is set when the file ends in an incomplete line (a
	// process killed while writing); it was ignored.
	Truncated bool
	// GoodBytes is the length of the file up to the last complete event.
	GoodBytes int64
	// DroppedBytes is the length of the incomplete tail.
	DroppedBytes int
}

// LineError is a damaged line in the middle of a journal.
type LineError struct {
	Line int
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// MaxLineBytes bounds one journal line when reading, so a corrupt file
// cannot exhaust memory.
const MaxLineBytes = 16 << 20

// ReadEvents reads every complete event of a journal. An incomplete last
// line (no newline, or not valid JSON at the very end) is reported in
// ReadInfo and skipped; any other damaged line is a *LineError.
func ReadEvents(r io.Reader) ([]Event, ReadInfo, error) {
	var info ReadInfo
	var events []Event
	br := bufio.NewReaderSize(r, 64*1024)
	in := newInterner()
	var line []byte
	lineNo := 0
	for {
		// One buffer serves every line: decodeLine copies what it keeps.
		var err error
		line, err = readLine(br, line[:0])
		if len(line) == 0 && err == io.EOF {
			return events, info, nil
		}
		lineNo++
		if err != nil && err != io.EOF {
			return events, info, &LineError{Line: lineNo, Msg: err.Error()}
		}
		complete := err == nil // ends with a newline
		trimmed := bytes.TrimRight(line, "\r\n")
		e, jerr := decodeLine(trimmed, in)
		if jerr != nil || e.Type == "" {
			if !complete {
				info.Truncated = true
				info.DroppedBytes = len(line)
				return events, info, nil
			}
			msg := "not a journal event"
			if jerr != nil {
				msg = "not valid JSON: " + jerr.Error()
			}
			return events, info, &LineError{Line: lineNo, Msg: msg}
		}
		if !complete {
			// A whole event without its newline: the write finished but
			// the newline did not. Keep it; the writer adds the newline.
			info.Truncated = true
		}
		if len(events) == cap(events) {
			// Double, where append would grow a long slice by a quarter
			// and copy a big journal's events over and over.
			events = slices.Grow(events, max(len(events), 64))
		}
		events = append(events, e)
		info.Lines = lineNo
		info.GoodBytes += int64(len(line))
		if !complete {
			return events, info, nil
		}
	}
}

// errLineTooLong is a line past MaxLineBytes.
var errLineTooLong = fmt.Errorf("line longer than %d bytes", MaxLineBytes)

// readLine appends the next line, with its newline, to buf.
func readLine(br *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > MaxLineBytes {
			return nil, errLineTooLong
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return buf, err
	}
}

// reopen opens an existing journal for appending after events, cutting an
// incomplete tail first so the next line starts cleanly.
func reopen(path string, events []Event, info ReadInfo) (*Journal, error) {
	// O_APPEND, as when created: after a failed write is cut back, the
	// next one lands at the new end, not past it.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	if err := lock(f, path); err != nil {
		f.Close()
		return nil, err
	}
	if info.DroppedBytes > 0 {
		if err := f.Truncate(info.GoodBytes); err != nil {
			f.Close()
			return nil, fmt.Errorf("cut the incomplete last line of %s: %w", path, err)
		}
	}
	if info.Truncated && info.DroppedBytes == 0 && len(events) > 0 {
		// The last event lacks its newline.
		if _, err := f.Write([]byte{'\n'}); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, err
	}
	j := &Journal{f: f, path: path, size: size}
	if n := len(events); n > 0 {
		j.seq = events[n-1].Seq
		j.last = events[n-1].Hash
		j.sealed = events[n-1].Type == TypeSealed
	}
	if j.head, err = openHead(path); err != nil {
		f.Close()
		return nil, err
	}
	// The head is brought up to date at once: a journal written before
	// steady kept head files gets one, and a crash mid-append (the line
	// there, the head still saying "next") is settled.
	if err := j.head.write(HeadFile{Head: Head{Seq: j.seq, Hash: j.last}}, true); err != nil {
		j.head.f.Close()
		f.Close()
		return nil, err
	}
	if err := j.head.f.Truncate(int64(len(HeadFile{}.bytes()))); err != nil {
		j.head.f.Close()
		f.Close()
		return nil, err
	}
	return j, nil
}
