package outbox

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// reader decodes records from a stream, bounding every size before it
// allocates.
type reader struct{ r *bufio.Reader }

func newReader(r io.Reader) *reader { return &reader{r: bufio.NewReaderSize(r, 64<<10)} }

func (r *reader) read(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r.r, b); err != nil {
		return nil, err
	}
	return b, nil
}

var (
	errShort  = errors.New("short record")
	errLength = errors.New("record length out of range")
	errCRC    = errors.New("CRC mismatch")
)

// record reads one record, of at most remaining bytes, and returns its
// body (kind and payload) once its length and CRC check out.
func (r *reader) record(remaining int64) ([]byte, error) {
	if remaining < headerLen+1 {
		return nil, errShort
	}
	var h [headerLen]byte
	if _, err := io.ReadFull(r.r, h[:]); err != nil {
		return nil, errShort
	}
	n := int64(binary.LittleEndian.Uint32(h[0:]))
	if n < 1 || headerLen+n > MaxRecordBytes {
		return nil, fmt.Errorf("%w: %d", errLength, n)
	}
	if headerLen+n > remaining {
		return nil, errShort
	}
	body, err := r.read(int(n))
	if err != nil {
		return nil, errShort
	}
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(h[4:]) {
		return nil, errCRC
	}
	return body, nil
}
