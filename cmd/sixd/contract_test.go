package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/sixdomain/sixdomain/contracts"
)

// TestParseArgs: JSON arguments map to contract values (ints, strings,
// bools, null, arrays, objects), floats and anything but an array are
// refused with the reason.
func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []any // the decoded arguments, when accepted
		err  string
	}{
		{"", []any{}, ""},
		{"[]", []any{}, ""},
		{`[5, -3, "x", true, null]`, []any{uint64(5), int64(-3), "x", true, nil}, ""},
		{`[[1, 2], {"a": 1}]`, []any{[]any{uint64(1), uint64(2)}, map[string]any{"a": uint64(1)}}, ""},
		{`[18446744073709551615]`, []any{uint64(18446744073709551615)}, ""},
		{`[-9223372036854775808]`, []any{int64(-9223372036854775808)}, ""},
		{`[18446744073709551616]`, nil, "does not fit in 64 bits"},
		{`[1.5]`, nil, "integer-only"},
		{`[1e3]`, nil, "integer-only"},
		{`[{"a": [2.0]}]`, nil, "integer-only"},
		{`{"by": 1}`, nil, "JSON array"},
		{`5`, nil, "JSON array"},
		{`[1] [2]`, nil, "data after"},
		{`[1,`, nil, "not JSON"},
		{strings.Repeat("[", 20) + strings.Repeat("]", 20), nil, "nested deeper"},
	} {
		enc, err := parseArgs(tc.in)
		if tc.err != "" {
			if err == nil || !errors.Is(err, errBadArgs) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseArgs(%q) = %v, want an error with %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseArgs(%q): %v", tc.in, err)
			continue
		}
		got, err := contracts.DecodeValue(enc)
		if err != nil {
			t.Errorf("parseArgs(%q) encoded %x: %v", tc.in, enc, err)
			continue
		}
		if compactJSON(got) != compactJSON(tc.want) {
			t.Errorf("parseArgs(%q) = %s, want %s", tc.in, compactJSON(got), compactJSON(tc.want))
		}
	}
}

// FuzzParseArgs: any --args either is refused with errBadArgs or encodes
// to arguments that decode.
func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{"[1]", `["a", {"b": [true, null]}]`, "[1.5]", "{}", "[[[[1]]]]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc, err := parseArgs(s)
		if err != nil {
			if !errors.Is(err, errBadArgs) {
				t.Fatalf("parseArgs(%q): %v does not wrap errBadArgs", s, err)
			}
			return
		}
		if _, err := contracts.DecodeValue(enc); err != nil {
			t.Fatalf("parseArgs(%q) = %x does not decode: %v", s, enc, err)
		}
	})
}

func TestFormatUnits(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		d    uint8
		want string
	}{{380, 2, "3.80"}, {5, 2, "0.05"}, {0, 3, "0.000"}, {1234567, 3, "1234.567"}} {
		if got := formatUnits(tc.n, tc.d); got != tc.want {
			t.Errorf("formatUnits(%d, %d) = %q, want %q", tc.n, tc.d, got, tc.want)
		}
	}
}
