package mocknet

import (
	"errors"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
)

var streamCounter atomic.Int64

// stream implements network.Stream
type stream struct {
	rstream *stream
	conn    *conn
	id      int64

	write     *io.PipeWriter
	read      *io.PipeReader
	toDeliver chan *transportObject

	reset  chan struct{}
	close  chan struct{}
	closed chan struct{}

	writeErr error

	protocol atomic.Pointer[protocol.ID]
	stat     network.Stats
}

var ErrClosed = errors.New("stream closed")

type transportObject struct {
	msg         []byte
	arrivalTime time.Time
}

func newStreamPair() (*stream, *stream) {
	ra, wb := io.Pipe()
	rb, wa := io.Pipe()

	sa := newStream(wa, ra, network.DirOutbound)
	sb := newStream(wb, rb, network.DirInbound)
	sa.rstream = sb
	sb.rstream = sa
	return sa, sb
}

func newStream(w *io.PipeWriter, r *io.PipeReader, dir network.Direction) *stream {
	s := &stream{
		read:      r,
		write:     w,
		id:        streamCounter.Add(1),
		reset:     make(chan struct{}, 1),
		close:     make(chan struct{}, 1),
		closed:    make(chan struct{}),
		toDeliver: make(chan *transportObject, deliverQueue),
		stat:      network.Stats{Direction: dir},
	}

	go s.transport()
	return s
}

// How to handle errors with writes?
func (s *stream) Write(p []byte) (n int, err error) {
	l := s.conn.link
	delay := l.GetLatency() + l.RateLimit(len(p)) + l.LossDelay()
	t := time.Now().Add(delay)

	// Copy it.
	cpy := make([]byte, len(p))
	copy(cpy, p)

	select {
	case <-s.closed: // bail out if we're closing.
		return 0, s.writeErr
	case s.toDeliver <- &transportObject{msg: cpy, arrivalTime: t}:
	}
	return len(p), nil
}

func (s *stream) ID() string {
	return strconv.FormatInt(s.id, 10)
}

func (s *stream) Protocol() protocol.ID {
	p := s.protocol.Load()
	if p == nil {
		return ""
	}
	return *p
}

func (s *stream) Stat() network.Stats {
	return s.stat
}

func (s *stream) SetProtocol(proto protocol.ID) error {
	s.protocol.Store(&proto)
	return nil
}

func (s *stream) CloseWrite() error {
	select {
	case s.close <- struct{}{}:
	default:
	}
	<-s.closed
	if s.writeErr != ErrClosed {
		return s.writeErr
	}
	return nil
}

func (s *stream) CloseRead() error {
	return s.read.CloseWithError(ErrClosed)
}

func (s *stream) Close() error {
	_ = s.CloseRead()
	return s.CloseWrite()
}

func (s *stream) Reset() error {
	// Cancel any pending reads/writes with an error.
	s.write.CloseWithError(network.ErrReset)
	s.read.CloseWithError(network.ErrReset)

	select {
	case s.reset <- struct{}{}:
	default:
	}
	<-s.closed

	// No meaningful error case here.
	return nil
}

// ResetWithError resets the stream. It ignores the provided error code.
// TODO: Implement error code support.
func (s *stream) ResetWithError(_ network.StreamErrorCode) error {
	// Cancel any pending reads/writes with an error.

	s.write.CloseWithError(network.ErrReset)
	s.read.CloseWithError(network.ErrReset)

	select {
	case s.reset <- struct{}{}:
	default:
	}
	<-s.closed

	// No meaningful error case here.
	return nil
}

func (s *stream) teardown() {
	// at this point, no streams are writing.
	s.conn.removeStream(s)

	// Mark as closed.
	close(s.closed)
}

func (s *stream) Conn() network.Conn {
	return s.conn
}

// SetDeadline is a noop for mocknet streams since the underlying pipe
// transport does not support deadlines. Callers should not treat the
// absence of deadline support as an error.
func (s *stream) SetDeadline(_ time.Time) error      { return nil }
func (s *stream) SetReadDeadline(_ time.Time) error  { return nil }
func (s *stream) SetWriteDeadline(_ time.Time) error { return nil }

func (s *stream) Read(b []byte) (int, error) {
	return s.read.Read(b)
}

// deliverQueue is how many writes a stream holds in flight before Write
// blocks (sixdomain change: upstream holds one, which makes a link a
// stop-and-wait pipe that delivers one write per latency).
const deliverQueue = 64

// transport delivers each write at its arrival time, in order, without
// holding back the writes behind it (sixdomain change: upstream waits for
// each write's arrival before taking the next, and holds small writes
// until a later write's arrival).
func (s *stream) transport() {
	defer s.teardown()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()

	deliver := func(o *transportObject) error {
		if d := time.Until(o.arrivalTime); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-s.reset:
				timer.Stop()
				select {
				case s.reset <- struct{}{}:
				default:
				}
				return network.ErrReset
			}
		}
		_, err := s.write.Write(o.msg)
		return err
	}

	for {
		// Reset takes precedent.
		select {
		case <-s.reset:
			s.writeErr = network.ErrReset
			return
		default:
		}

		select {
		case <-s.reset:
			s.writeErr = network.ErrReset
			return
		case <-s.close:
			// Deliver what was written before the close.
			for drained := false; !drained; {
				select {
				case o := <-s.toDeliver:
					if err := deliver(o); err != nil {
						s.cancelWrite(err)
						return
					}
				default:
					drained = true
				}
			}
			s.writeErr = s.write.Close()
			if s.writeErr == nil {
				s.writeErr = ErrClosed
			}
			return
		case o := <-s.toDeliver:
			if err := deliver(o); err != nil {
				s.cancelWrite(err)
				return
			}
		}
	}
}

func (s *stream) Scope() network.StreamScope {
	return &network.NullScope{}
}

func (s *stream) cancelWrite(err error) {
	s.write.CloseWithError(err)
	s.writeErr = err
}
