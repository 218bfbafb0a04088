// Package clock is the time source of a node: the wall clock, or a dilated
// clock on which protocol time runs Scale times slower than wall time, so
// that a swarm too large to keep up in real time still sees every protocol
// delay in the right proportion (see docs/SIMULATOR.md).
//
// A node reads the time (Now) and waits (NewTimer, NewTicker) only through
// a Clock. Durations passed to NewTimer and NewTicker are protocol
// durations; Wall converts one into the wall time it takes, for the
// timeouts a node hands to libraries that wait on wall time themselves.
//
// Imports: only the standard library.
package clock

import "time"

// Clock tells the time and makes timers that fire after durations of its
// own time.
type Clock interface {
	// Now returns the current time on this clock.
	Now() time.Time
	// NewTimer returns a timer that fires once, after d of this clock's time.
	NewTimer(d time.Duration) Timer
	// NewTicker returns a ticker that fires every d of this clock's time.
	NewTicker(d time.Duration) Ticker
	// Wall converts d of this clock's time into wall time.
	Wall(d time.Duration) time.Duration
	// Scale is the wall seconds one second of this clock takes (1 for the
	// real clock).
	Scale() float64
}

// Timer is a one-shot timer; see time.Timer.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	// Reset re-arms the timer to fire after d of its clock's time.
	Reset(d time.Duration) bool
}

// Ticker is a periodic ticker; see time.Ticker.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Real returns the wall clock.
func Real() Clock { return Dilated(1) }

// Dilated returns a clock that starts at the current wall time and then
// runs scale times slower than it: after w of wall time, it has advanced
// w/scale. Waits of d on it take d*scale of wall time. A scale of 1 (or
// anything not above 0) is the wall clock itself.
func Dilated(scale float64) Clock {
	if !(scale > 0) || scale == 1 {
		return realClock{}
	}
	return &dilated{start: time.Now(), scale: scale}
}

type realClock struct{}

func (realClock) Now() time.Time                   { return time.Now() }
func (realClock) NewTimer(d time.Duration) Timer   { return &timer{t: time.NewTimer(d), wall: ident} }
func (realClock) NewTicker(d time.Duration) Ticker { return ticker{time.NewTicker(d)} }
func (realClock) Wall(d time.Duration) time.Duration {
	return d
}
func (realClock) Scale() float64 { return 1 }

func ident(d time.Duration) time.Duration { return d }

type dilated struct {
	start time.Time
	scale float64
}

func (c *dilated) Now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.start)) / c.scale))
}

func (c *dilated) Wall(d time.Duration) time.Duration {
	return time.Duration(float64(d) * c.scale)
}

func (c *dilated) Scale() float64 { return c.scale }

func (c *dilated) NewTimer(d time.Duration) Timer {
	return &timer{t: time.NewTimer(c.Wall(d)), wall: c.Wall}
}

func (c *dilated) NewTicker(d time.Duration) Ticker {
	return ticker{time.NewTicker(max(c.Wall(d), 1))}
}

type timer struct {
	t    *time.Timer
	wall func(time.Duration) time.Duration
}

func (t *timer) C() <-chan time.Time        { return t.t.C }
func (t *timer) Stop() bool                 { return t.t.Stop() }
func (t *timer) Reset(d time.Duration) bool { return t.t.Reset(t.wall(d)) }

type ticker struct{ t *time.Ticker }

func (t ticker) C() <-chan time.Time { return t.t.C }
func (t ticker) Stop()               { t.t.Stop() }
