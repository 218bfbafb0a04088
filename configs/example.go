package configs

import (
	"embed"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"
)

// The role example files. The list is explicit so that other .toml files in
// this directory (such as the chain's genesis.toml) are not embedded.
//
//go:embed device.toml gateway.toml bootstrap.toml light.toml
var examples embed.FS

// Example returns the commented example configuration file for role. It
// decodes to exactly Default(role). It returns nil for an unknown role. The
// returned slice is a fresh copy.
func Example(role Role) []byte {
	if _, err := ParseRole(string(role)); err != nil {
		return nil
	}
	b, err := examples.ReadFile(string(role) + ".toml")
	if err != nil {
		// Unreachable: the embed directive lists every role.
		panic("configs: missing embedded example for role " + string(role))
	}
	return b
}

// RenderOptions are the overrides Render applies to an example file. Zero
// values keep the example's default.
type RenderOptions struct {
	// Listen replaces p2p.listen when non-empty.
	Listen []string
	// Bootstrap replaces p2p.bootstrap when non-empty.
	Bootstrap []string
	// APIListen replaces api.listen when non-empty. To disable the API use
	// DisableAPI.
	APIListen string
	// MDNS replaces p2p.mdns when non-nil.
	MDNS *bool
	// DisableAPI sets api.listen = "" (the API is off). It cannot be
	// combined with APIListen.
	DisableAPI bool
	// APITokenFile replaces api.token_file when non-empty.
	APITokenFile string
	// MetricsListen replaces metrics.listen when non-empty.
	MetricsListen string
	// Reachability replaces p2p.reachability when non-empty.
	Reachability string
}

// Render returns the example file for role with the overrides in o applied.
// Only the affected `key = value` lines are rewritten; all comments and the
// layout are kept. The overrides are validated first, and the output is
// checked to decode to Default(role) with the overrides applied, so a
// successful result always loads back with Load.
func Render(role Role, o RenderOptions) ([]byte, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return nil, fmt.Errorf("configs: render: %w", err)
	}
	if o.DisableAPI && o.APIListen != "" {
		return nil, fmt.Errorf("configs: render: APIListen %q conflicts with DisableAPI", o.APIListen)
	}

	want := Default(role)
	type edit struct {
		section, key, value string
		done                bool
	}
	var edits []*edit
	if len(o.Listen) > 0 {
		want.P2P.Listen = slices.Clone(o.Listen)
		edits = append(edits, &edit{section: "p2p", key: "listen", value: tomlStringArray(o.Listen)})
	}
	if len(o.Bootstrap) > 0 {
		want.P2P.Bootstrap = slices.Clone(o.Bootstrap)
		edits = append(edits, &edit{section: "p2p", key: "bootstrap", value: tomlStringArray(o.Bootstrap)})
	}
	if o.MDNS != nil {
		want.P2P.MDNS = *o.MDNS
		edits = append(edits, &edit{section: "p2p", key: "mdns", value: fmt.Sprint(*o.MDNS)})
	}
	if o.APIListen != "" || o.DisableAPI {
		want.API.Listen = o.APIListen
		edits = append(edits, &edit{section: "api", key: "listen", value: tomlString(o.APIListen)})
	}
	if o.APITokenFile != "" {
		want.API.TokenFile = o.APITokenFile
		edits = append(edits, &edit{section: "api", key: "token_file", value: tomlString(o.APITokenFile)})
	}
	if o.Reachability != "" {
		want.P2P.Reachability = o.Reachability
		edits = append(edits, &edit{section: "p2p", key: "reachability", value: tomlString(o.Reachability)})
	}
	if o.MetricsListen != "" {
		want.Metrics.Listen = o.MetricsListen
		edits = append(edits, &edit{section: "metrics", key: "listen", value: tomlString(o.MetricsListen)})
	}
	for _, s := range append(append(slices.Clone(o.Listen), o.Bootstrap...), o.APIListen, o.APITokenFile, o.MetricsListen) {
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("configs: render: %q is not valid UTF-8", s)
		}
	}
	if err := want.Validate(); err != nil {
		return nil, fmt.Errorf("configs: render: %w", err)
	}

	lines := strings.SplitAfter(string(Example(role)), "\n")
	section := ""
	for i, line := range lines {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "[") {
			name, _, _ := strings.Cut(strings.TrimLeft(trimmed, "["), "]")
			section = strings.TrimSpace(name)
			continue
		}
		key, _, ok := strings.Cut(trimmed, "=")
		if !ok || strings.HasPrefix(trimmed, "#") {
			continue
		}
		key = strings.TrimSpace(key)
		for _, e := range edits {
			if e.section != section || e.key != key {
				continue
			}
			if e.done {
				return nil, fmt.Errorf("configs: render: example for %s sets %s.%s twice", role, section, key)
			}
			indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
			nl := line[len(strings.TrimRight(line, "\r\n")):]
			lines[i] = indent + key + " = " + e.value + nl
			e.done = true
		}
	}
	for _, e := range edits {
		if !e.done {
			return nil, fmt.Errorf("configs: render: example for %s has no %s.%s line", role, e.section, e.key)
		}
	}
	out := []byte(strings.Join(lines, ""))

	// Self-check: the rendered file must decode to exactly what was asked.
	got, err := decode(out)
	if err != nil {
		return nil, fmt.Errorf("configs: render: output does not decode: %w", err)
	}
	normalise(&want)
	if !reflect.DeepEqual(got, want) {
		return nil, fmt.Errorf("configs: render: output decodes to %+v, want %+v", got, want)
	}
	return out, nil
}

// tomlString quotes s as a TOML basic string. s must be valid UTF-8.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// tomlStringArray formats ss as a TOML array: on one line when short, one
// element per line otherwise.
func tomlStringArray(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = tomlString(s)
	}
	one := "[" + strings.Join(q, ", ") + "]"
	if len(one) <= 80 || len(q) == 1 {
		return one
	}
	return "[\n  " + strings.Join(q, ",\n  ") + ",\n]"
}
