package node

import "sync"

// fanout delivers commit events to subscribers without blocking the
// publisher.
type fanout struct {
	mu     sync.Mutex
	subs   map[chan CommitEvent]struct{}
	closed bool
}

func newFanout() *fanout { return &fanout{subs: map[chan CommitEvent]struct{}{}} }

func (f *fanout) subscribe(buf int) (<-chan CommitEvent, func()) {
	if buf < 1 {
		buf = 1
	}
	ch := make(chan CommitEvent, buf)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		close(ch)
		return ch, func() {}
	}
	f.subs[ch] = struct{}{}
	return ch, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := f.subs[ch]; ok {
			delete(f.subs, ch)
			close(ch)
		}
	}
}

func (f *fanout) publish(e CommitEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		select {
		case ch <- e:
		default:
		}
	}
}

func (f *fanout) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for ch := range f.subs {
		close(ch)
		delete(f.subs, ch)
	}
}
