package session

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// The head file keeps, beside each journal, the head (sequence number and
// hash) of its last event, so that a journal cut short or extended after
// steady wrote it no longer matches. The hash chain alone cannot tell: a
// removed last line, or a line added with its hash recomputed, leaves a
// chain that holds.
//
// The file has a fixed size and is overwritten in place (never renamed),
// in two steps around each append: before the line is written it records
// the event about to be written as "next", and is synced; after the line is
// synced it records that event as the head. A crash between any two steps
// leaves a journal that agrees with it: the line is there and matches
// "next", or it is not and the head is the event before.
//
// Someone who rewrites both the journal and its head file goes unseen by
// these files; only a head kept elsewhere (pasted into the postmortem, and
// given to `steady report verify --head`) catches that.

// headLineWidth is the width each of the head file's two lines is padded
// to: room for "next ", a 19-digit sequence number, ":" and 64 hex digits.
const headLineWidth = 95

// HeadPath returns the head file of a journal: the same name with .head
// for .jsonl.
func HeadPath(journal string) string {
	return strings.TrimSuffix(journal, ".jsonl") + ".head"
}

// HeadFile is what a head file records: the last event written, and the
// event being written when the file was last touched, if any.
type HeadFile struct {
	Head Head
	Next *Head
}

// agrees reports whether a journal whose last event has the head last
// (and whose event hashes are found by hashAt) matches the file: it ends at
// the recorded head, or at the event that was being written.
func (hf HeadFile) agrees(last Head, hashAt func(int64) (string, bool)) bool {
	if hf.Next != nil && last.Seq == hf.Next.Seq {
		prev, ok := hashAt(hf.Head.Seq)
		return last.Hash == hf.Next.Hash && (hf.Head.Seq == 0 || ok && prev == hf.Head.Hash)
	}
	return last == hf.Head
}

// bytes is the file's content: two padded lines.
func (hf HeadFile) bytes() []byte {
	var b strings.Builder
	line := func(s string) {
		b.WriteString(s)
		b.WriteString(strings.Repeat(" ", headLineWidth-len(s)))
		b.WriteByte('\n')
	}
	line(hf.Head.String())
	if hf.Next != nil {
		line("next " + hf.Next.String())
	} else {
		line("")
	}
	return []byte(b.String())
}

// ReadHeadFile reads the head file at path.
func ReadHeadFile(path string) (HeadFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return HeadFile{}, err
	}
	lines := strings.Split(string(data), "\n")
	bad := func(why string) (HeadFile, error) {
		return HeadFile{}, fmt.Errorf("%s is not a head file (%s)", path, why)
	}
	if len(lines) < 2 {
		return bad("too short")
	}
	var hf HeadFile
	if hf.Head, err = parseFullHead(lines[0]); err != nil {
		return bad(err.Error())
	}
	if rest := strings.TrimSpace(lines[1]); rest != "" {
		s, ok := strings.CutPrefix(rest, "next ")
		if !ok {
			return bad("its second line is neither empty nor next SEQ:HASH")
		}
		next, err := parseFullHead(s)
		if err != nil {
			return bad(err.Error())
		}
		hf.Next = &next
	}
	return hf, nil
}

// parseFullHead reads a head as steady writes it: the hash in full (none
// for an empty journal).
func parseFullHead(s string) (Head, error) {
	h, err := ParseHead(s)
	if err == nil && h.Seq > 0 && len(h.Hash) != 64 {
		err = fmt.Errorf("%q has a shortened hash", strings.TrimSpace(s))
	}
	return h, err
}

// headWriter keeps a journal's head file.
type headWriter struct {
	f *os.File
}

// createHead creates the head file of a new journal, recording no event.
func createHead(journal string) (*headWriter, error) {
	f, err := os.OpenFile(HeadPath(journal), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create the head file: %w", err)
	}
	h := &headWriter{f: f}
	if err := h.write(HeadFile{}, true); err != nil {
		f.Close()
		return nil, err
	}
	return h, nil
}

// openHead opens the head file of a journal being resumed, creating it for
// a journal written before steady kept one.
func openHead(journal string) (*headWriter, error) {
	f, err := os.OpenFile(HeadPath(journal), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the head file: %w", err)
	}
	return &headWriter{f: f}, nil
}

// write records hf in place; sync makes it durable before the journal's
// line is written, which is what keeps the two in agreement after a crash.
func (h *headWriter) write(hf HeadFile, sync bool) error {
	if _, err := h.f.WriteAt(hf.bytes(), 0); err != nil {
		return fmt.Errorf("write the head file: %w", err)
	}
	if sync {
		if err := syscall.Fdatasync(int(h.f.Fd())); err != nil && !errors.Is(err, syscall.EINVAL) {
			return fmt.Errorf("sync the head file: %w", err)
		}
	}
	return nil
}

func (h *headWriter) close() error {
	err := h.f.Sync()
	if cerr := h.f.Close(); err == nil {
		err = cerr
	}
	return err
}
