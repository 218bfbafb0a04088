package main

import (
	"context"
	"log/slog"
	"os"
	"sort"
	"sync/atomic"

	golog "github.com/ipfs/go-log/v2"
	"github.com/libp2p/go-libp2p/gologshim"
	"go.uber.org/zap/zapcore"
)

// libp2p and GossipSub log through go-log (zap) and gologshim (slog),
// both process-wide. bridgeLibp2pLogs sends both to one slog.Handler that
// sixd run points at the node's logger, so that log.format = "json" makes
// every line JSON. gologshim fixes a logger's handler when it is first
// used, so the bridge is installed once, before any libp2p code runs (in
// init), and only its target changes afterwards. What libp2p logs is still
// chosen by go-log's levels ($GOLOG_LOG_LEVEL, default error); the target
// handler then applies log.level.
type libp2pLogBridge struct {
	target atomic.Pointer[slog.Handler]
}

// libp2pLogs is the process's bridge. Before sixd run sets a target (and
// in the other commands), lines go to stderr as text.
var libp2pLogs = newLibp2pLogBridge()

func newLibp2pLogBridge() *libp2pLogBridge {
	b := &libp2pLogBridge{}
	b.set(nil)
	golog.SetPrimaryCore(&slogCore{b: b})
	gologshim.SetDefaultHandler(golog.SlogHandler())
	return b
}

// set points the bridge at h (nil: stderr as text, at go-log's levels)
// and returns a function restoring the previous target.
func (b *libp2pLogBridge) set(h slog.Handler) (restore func()) {
	if h == nil {
		h = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})
	}
	prev := b.target.Swap(&h)
	return func() {
		if prev != nil {
			b.target.Store(prev)
		}
	}
}

func (b *libp2pLogBridge) handler() slog.Handler { return *b.target.Load() }

// slogCore is a zapcore.Core writing to the bridge's current handler.
type slogCore struct {
	b      *libp2pLogBridge
	fields []zapcore.Field
}

var _ zapcore.Core = (*slogCore)(nil)

func zapToSlogLevel(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	}
	return slog.LevelError
}

func (c *slogCore) Enabled(l zapcore.Level) bool {
	return c.b.handler().Enabled(context.Background(), zapToSlogLevel(l))
}

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	return &slogCore{b: c.b, fields: append(append([]zapcore.Field(nil), c.fields...), fields...)}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	for _, f := range fields {
		f.AddTo(enc)
	}
	r := slog.NewRecord(e.Time, zapToSlogLevel(e.Level), e.Message, 0)
	if e.LoggerName != "" {
		r.AddAttrs(slog.String("logger", e.LoggerName))
	}
	keys := make([]string, 0, len(enc.Fields))
	for k := range enc.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r.AddAttrs(slog.Any(k, enc.Fields[k]))
	}
	return c.b.handler().Handle(context.Background(), r)
}

func (*slogCore) Sync() error { return nil }
