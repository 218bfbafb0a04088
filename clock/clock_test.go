package clock

import (
	"testing"
	"time"
)

func TestRealIsWallClock(t *testing.T) {
	c := Real()
	if c.Scale() != 1 || c.Wall(time.Second) != time.Second {
		t.Fatalf("real clock scale %v, wall(1s) %v", c.Scale(), c.Wall(time.Second))
	}
	if d := time.Since(c.Now()); d < 0 || d > time.Second {
		t.Fatalf("real clock is %v off the wall clock", d)
	}
}

func TestDilatedRunsSlower(t *testing.T) {
	c := Dilated(10)
	if c.Wall(time.Second) != 10*time.Second {
		t.Fatalf("wall(1s) at scale 10 = %v", c.Wall(time.Second))
	}
	t0 := c.Now()
	wall := time.Now()
	tm := c.NewTimer(5 * time.Millisecond) // 50 ms of wall time
	<-tm.C()
	elapsedWall := time.Since(wall)
	elapsed := c.Now().Sub(t0)
	if elapsedWall < 50*time.Millisecond {
		t.Fatalf("5 ms timer at scale 10 fired after %v of wall time", elapsedWall)
	}
	if elapsed < 5*time.Millisecond || elapsed > elapsedWall/5 {
		t.Fatalf("clock advanced %v over %v of wall time", elapsed, elapsedWall)
	}
	tm.Reset(time.Millisecond)
	<-tm.C()
	tk := c.NewTicker(2 * time.Millisecond)
	defer tk.Stop()
	<-tk.C()
	if d := time.Since(wall); d < 80*time.Millisecond {
		t.Fatalf("timer reset and one tick took only %v of wall time", d)
	}
}
