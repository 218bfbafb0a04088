// Package reclog owns the record framing of the node's append-only log
// files (node/outbox, node/light's store): each record is
//
//	length (4 bytes, little-endian: the body's length, at least 1)
//	|| CRC-32C (Castagnoli) of the body (4 bytes, little-endian)
//	|| body
//
// A Reader bounds every length before it allocates and tells a short (torn)
// record from a bad length and a bad checksum, so that its users can cut a
// torn last record and refuse damage further in. What a body holds, and
// what a file starts with, is each user's.
//
// Imports: the standard library only.
package reclog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// HeaderLen is the length of a record's header (length and CRC).
const HeaderLen = 8

// Errors of Reader.Next.
var (
	// ErrShort: the stream ends within the record (a torn write).
	ErrShort = errors.New("short record")
	// ErrLength: the record's length is 0 or above the Reader's bound.
	ErrLength = errors.New("record length out of range")
	// ErrCRC: the body does not match its checksum.
	ErrCRC = errors.New("CRC mismatch")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Append appends to buf the record whose body is the concatenation of
// parts.
func Append(buf []byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	start := len(buf)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(n))
	buf = append(buf, 0, 0, 0, 0)
	for _, p := range parts {
		buf = append(buf, p...)
	}
	binary.LittleEndian.PutUint32(buf[start+4:], crc32.Checksum(buf[start+HeaderLen:], castagnoli))
	return buf
}

// Reader reads records from a stream.
type Reader struct {
	r       *bufio.Reader
	maxBody int64
	buf     []byte
}

// NewReader returns a Reader of records whose bodies are at most maxBody
// bytes.
func NewReader(r io.Reader, maxBody int64) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), maxBody: maxBody}
}

// Read reads raw bytes (a file's leading magic, say).
func (r *Reader) Read(p []byte) (int, error) { return r.r.Read(p) }

// Next reads one record of at most remaining bytes (header included) and
// returns its body once its length and CRC check out. The body is valid
// until the next call.
func (r *Reader) Next(remaining int64) ([]byte, error) {
	if remaining < HeaderLen+1 {
		return nil, ErrShort
	}
	var h [HeaderLen]byte
	if _, err := io.ReadFull(r.r, h[:]); err != nil {
		return nil, ErrShort
	}
	n := int64(binary.LittleEndian.Uint32(h[0:]))
	if n < 1 || n > r.maxBody {
		return nil, fmt.Errorf("%w: %d", ErrLength, n)
	}
	if HeaderLen+n > remaining {
		return nil, ErrShort
	}
	if int64(cap(r.buf)) < n {
		r.buf = make([]byte, n)
	}
	body := r.buf[:n]
	if _, err := io.ReadFull(r.r, body); err != nil {
		return nil, ErrShort
	}
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(h[4:]) {
		return nil, ErrCRC
	}
	return body, nil
}

// Checksum returns the CRC-32C of b, as a record header holds it.
func Checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// SyncDir fsyncs a directory, so that a rename or a new file in it
// survives power loss.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// AllZero reports whether b holds only zero bytes (a file extended but not
// written, after a crash).
func AllZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
