package main

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	golog "github.com/ipfs/go-log/v2"
)

// TestRunLogsJSON: with log.format = "json", libp2p's and GossipSub's own
// lines (forced to debug for two subsystems) come out as JSON objects
// through the node's handler, like every other line.
func TestRunLogsJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	for _, sub := range []string{"basichost", "pubsub"} {
		prev, err := golog.SubsystemLevelName(sub)
		if err != nil {
			prev = "error"
		}
		if err := golog.SetLogLevel(sub, "debug"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := golog.SetLogLevel(sub, prev); err != nil {
				t.Error(err)
			}
		})
	}
	home := initHome(t, "device")
	editConfig(t, home, `store = "pebble"`, `store = "memory"`, `level = "info"`, `level = "debug"`, `format = "text"`, `format = "json"`)
	r := startRun(t, home)

	var libp2pLine map[string]any
	deadline := time.Now().Add(20 * time.Second)
	for libp2pLine == nil {
		for _, line := range strings.Split(strings.TrimSpace(r.stderr.String()), "\n") {
			var obj map[string]any
			if err := json.Unmarshal([]byte(line), &obj); err != nil {
				t.Fatalf("a log line is not JSON: %q (%v)", line, err)
			}
			if lg, _ := obj["logger"].(string); lg == "basichost" || lg == "pubsub" {
				libp2pLine = obj
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no libp2p line in the log:\n%s", r.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("libp2p line: %v", libp2pLine)
	if libp2pLine["level"] != "DEBUG" || libp2pLine["msg"] == "" || libp2pLine["time"] == nil {
		t.Errorf("libp2p line %v lacks the node handler's level, msg or time", libp2pLine)
	}
}

// TestLibp2pLogBridgeZap: go-log's zap loggers reach the target handler
// with their subsystem and fields.
func TestLibp2pLogBridgeZap(t *testing.T) {
	var buf syncBuffer
	defer libp2pLogs.set(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))()
	if err := golog.SetLogLevel("sixd-bridge-test", "info"); err != nil {
		t.Fatal(err)
	}
	lg := golog.Logger("sixd-bridge-test")
	lg.Debugw("hidden by the subsystem level")
	lg.Infow("hello", "k", 7, "peer", "p1")
	var obj map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(buf.String())), &obj); err != nil {
		t.Fatalf("bridge output %q: %v", buf.String(), err)
	}
	if obj["msg"] != "hello" || obj["logger"] != "sixd-bridge-test" || obj["k"] != float64(7) || obj["peer"] != "p1" || obj["level"] != "INFO" {
		t.Errorf("bridged line = %v", obj)
	}
}
