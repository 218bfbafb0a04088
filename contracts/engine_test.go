package contracts_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/sixdomain/sixdomain/contracts"
	"github.com/sixdomain/sixdomain/contracts/contractstest"
)

// TestCheckRejects lists the deploy-time rules, each with a contract that
// breaks it.
func TestCheckRejects(t *testing.T) {
	const ok = "EXPORTS = [\"f\"]\ndef f():\n    return 1\n"
	for _, tc := range []struct {
		name, code string
		want       error
	}{
		{"too large", ok + "#" + strings.Repeat("x", contracts.MaxCodeSize), contracts.ErrCodeTooLarge},
		{"syntax", "EXPORTS = [\"f\"]\ndef f(:\n", contracts.ErrSyntax},
		{"no exports", "def f():\n    return 1\n", contracts.ErrExports},
		{"exports not literal", "E = \"f\"\nEXPORTS = [E]\ndef f():\n    return 1\n", contracts.ErrExports},
		{"exports unknown", "EXPORTS = [\"g\"]\ndef f():\n    return 1\n", contracts.ErrExports},
		{"exports init", "EXPORTS = [\"init\"]\ndef init():\n    return 1\n", contracts.ErrExports},
		{"exports private", "EXPORTS = [\"_f\"]\ndef _f():\n    return 1\n", contracts.ErrExports},
		{"exports twice", "EXPORTS = [\"f\", \"f\"]\ndef f():\n    return 1\n", contracts.ErrExports},
		{"float literal", ok + "X = 1.5\n", contracts.ErrForbidden},
		{"float exponent", ok + "X = 1e3\n", contracts.ErrForbidden},
		{"slash", ok + "def g(a, b):\n    return a / b\n", contracts.ErrForbidden},
		{"slash eq", ok + "def g(a, b):\n    a /= b\n    return a\n", contracts.ErrForbidden},
		{"float builtin", ok + "def g(a):\n    return float(a)\n", contracts.ErrForbidden},
		{"print", ok + "def g(a):\n    print(a)\n", contracts.ErrForbidden},
		{"getattr", ok + "def g(a):\n    return getattr(a, \"replace\")\n", contracts.ErrForbidden},
		{"load", "load(\"x.star\", \"y\")\n" + ok, contracts.ErrForbidden},
		{"while", ok + "def g():\n    while True:\n        pass\n", contracts.ErrForbidden},
		{"top-level for", ok + "for i in range(3):\n    pass\n", contracts.ErrSyntax},
		{"global reassign", ok + "X = 1\nX = 2\n", contracts.ErrSyntax},
		{"set", ok + "def g():\n    return set([1])\n", contracts.ErrForbidden},
		{"star args", ok + "def g(a):\n    return f(*a)\n", contracts.ErrForbidden},
		{"kwargs", ok + "def g(a):\n    return f(**a)\n", contracts.ErrForbidden},
		{"field assign", ok + "def g(a):\n    a.x = 1\n", contracts.ErrForbidden},
		{"index in tuple target", ok + "def g(a):\n    a[0], b = 1, 2\n", contracts.ErrForbidden},
		{"index loop target", ok + "def g(a):\n    for a[0] in [1]:\n        pass\n", contracts.ErrForbidden},
		{"impure aug index", ok + "def g(a):\n    a[f()] += 1\n", contracts.ErrForbidden},
		{"huge int literal", ok + "X = " + strings.Repeat("9", 2000) + "\n", contracts.ErrForbidden},
		{"undefined", ok + "def g():\n    return nosuch\n", contracts.ErrSyntax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := contracts.Check([]byte(tc.code))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestSemantics checks that the rewritten operators, indexing, slicing,
// methods and built-ins behave as Starlark does.
func TestSemantics(t *testing.T) {
	for i, tc := range []struct {
		body string
		want any
	}{
		{"return 7 // 2, -7 // 2, 7 % 3, -7 % 3, 1 << 10, 1024 >> 3, 6 & 3, 6 | 3, 6 ^ 3, -(5), ~5", []any{uint64(3), int64(-4), uint64(1), uint64(2), uint64(1024), uint64(128), uint64(2), uint64(7), uint64(5), int64(-5), int64(-6)}},
		{"return 2 * 3 + 4 - 1, 10 - 20", []any{uint64(9), int64(-10)}},
		{"return 18446744073709551615 + 0, 18446744073709551615 * 2 // 2", []any{uint64(18446744073709551615), uint64(18446744073709551615)}},
		{"return \"ab\" * 3, [1] * 2, 2 * \"x\", \"x\" * -1", []any{"ababab", []any{uint64(1), uint64(1)}, "xx", ""}},
		{"return \"%s-%d\" % (\"a\", 3), \"%r\" % \"q\"", []any{"a-3", `"q"`}},
		{"return 1 < 2, \"a\" >= \"b\", [1, 2] == [1, 2], (1, 2) != (1, 3), 2 in [1, 2], \"b\" not in \"abc\", \"k\" in {\"k\": 1}", []any{true, false, true, true, true, false, true}},
		{"a = [1]\nb = a\na += [2]\nreturn b", []any{uint64(1), uint64(2)}},
		{"s = \"a\"\ns += \"b\"\nn = 1\nn *= 5\nn -= 1\nn //= 2\nn <<= 2\nreturn s, n", []any{"ab", uint64(8)}},
		{"a = {\"x\": 1}\nb = a\na |= {\"y\": 2}\nc = a | {\"z\": 3}\nreturn b, c", []any{map[string]any{"x": uint64(1), "y": uint64(2)}, map[string]any{"x": uint64(1), "y": uint64(2), "z": uint64(3)}}},
		{"d = {\"k\": 1}\nd[\"k\"] += 2\nk = \"j\"\nd[k] = 5\nd[k] -= 1\nreturn d", map[string]any{"k": uint64(3), "j": uint64(4)}},
		{"l = [1, 2, 3]\nl[0] = 9\nl[-1] += 1\nreturn l, l[1], l[-1]", []any{[]any{uint64(9), uint64(2), uint64(4)}, uint64(2), uint64(4)}},
		{"s = \"abcdef\"\nl = [0, 1, 2, 3, 4]\nreturn s[1:3], s[::-1], s[-2:], l[::2], l[3:1:-1], l[:], b\"xyz\"[1:]", []any{"bc", "fedcba", "ef", []any{uint64(0), uint64(2), uint64(4)}, []any{uint64(3), uint64(2)}, []any{uint64(0), uint64(1), uint64(2), uint64(3), uint64(4)}, []byte("yz")}},
		{"return {k: k * 2 for k in [\"a\", \"b\"]}, {\"x\": 1, \"y\": [2]}", []any{map[string]any{"a": "aa", "b": "bb"}, map[string]any{"x": uint64(1), "y": []any{uint64(2)}}}},
		{"return \",\".join([\"a\", \"b\"]), \"a-b\".split(\"-\"), \"aXa\".replace(\"a\", \"bb\"), \"{}+{x}\".format(1, x = 2), \" p \".strip(), \"abc\".upper()", []any{"a,b", []any{"a", "b"}, "bbXbb", "1+2", "p", "ABC"}},
		{"r = \"a.b\".split\nreturn r(\".\")", []any{"a", "b"}},
		{"l = []\nl.append(1)\nl.extend([2, 3])\nl.insert(0, 0)\nl.remove(2)\nx = l.pop()\nreturn l, x, l.index(1)", []any{[]any{uint64(0), uint64(1)}, uint64(3), uint64(1)}},
		{"d = {\"a\": 1}\nd.update({\"b\": 2})\nreturn d.get(\"a\"), d.get(\"z\", 0), d.keys(), d.values(), d.items(), d.pop(\"a\"), d.setdefault(\"c\", 3), d", []any{uint64(1), uint64(0), []any{"a", "b"}, []any{uint64(1), uint64(2)}, []any{[]any{"a", uint64(1)}, []any{"b", uint64(2)}}, uint64(1), uint64(3), map[string]any{"b": uint64(2), "c": uint64(3)}}},
		{"return list(range(3)), tuple([1]), reversed([1, 2]), sorted([3, 1, 2]), sorted([\"b\", \"a\"], reverse = True), enumerate([\"x\"]), zip([1], [2])", []any{[]any{uint64(0), uint64(1), uint64(2)}, []any{uint64(1)}, []any{uint64(2), uint64(1)}, []any{uint64(1), uint64(2), uint64(3)}, []any{"b", "a"}, []any{[]any{uint64(0), "x"}}, []any{[]any{uint64(1), uint64(2)}}}},
		{"return len(\"abc\"), str(12), repr(\"a\"), int(\"42\"), int(\"ff\", 16), bool([]), min(3, 1), max([4, 9]), abs(-3), any([0, 1]), all([]), type(1), bytes(\"hi\"), hash(\"a\"), chr(65), ord(\"A\")", []any{uint64(3), "12", `"a"`, uint64(42), uint64(255), false, uint64(1), uint64(9), uint64(3), true, true, "int", []byte("hi"), uint64(97), "A", uint64(65)}},
		{"f = lambda x: x + 1\ndef g(a, b = 2, *rest, **kw):\n    return a + b + len(rest)\nreturn f(1), g(1), g(1, 1), [x * x for x in range(4) if x % 2 == 1]", []any{uint64(2), uint64(3), uint64(2), []any{uint64(1), uint64(9)}}},
		{"return block_height(), block_time(), caller(), caller_role(), caller_key(), self_address(), paid(\"credit\")", []any{uint64(10), uint64(1_700_000_000_000), "did:six:alice", "user", []byte{1, 2, 3}, "contract1", uint64(0)}},
		{"storage_set(\"a\", {\"n\": [1, b\"x\", None, True]})\nstorage_set(b\"b\", 1)\nstorage_del(b\"b\")\nstorage_set(\"c\", None)\nreturn storage_get(\"a\"), storage_has(\"b\"), storage_has(\"a\"), storage_get(\"c\", \"default\")", []any{map[string]any{"n": []any{uint64(1), []byte("x"), nil, true}}, false, true, "default"}},
		{"return lookup_did(\"did:six:dev\"), lookup_did(\"did:six:none\"), record_exists(\"s\", \"did:six:dev\", 3), record_exists(\"s\", \"did:six:dev\", 4), balance(\"credit\", \"contract1\")", []any{map[string]any{"controller": "did:six:bob", "domain": "d", "role": "device", "admitted": true}, nil, true, false, uint64(50)}},
		{"transfer(\"credit\", \"did:six:bob\", 20)\nreturn balance(\"credit\", \"contract1\"), balance(\"credit\", \"did:six:bob\")", []any{uint64(30), uint64(20)}},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			body := strings.ReplaceAll(tc.body, "\n", "\n    ")
			code := "EXPORTS = [\"main\"]\n\ndef main():\n    " + body + "\n"
			p := mustCheck(t, code)
			h := newHost()
			h.DIDs["did:six:dev"] = contracts.DIDInfo{Controller: "did:six:bob", Domain: "d", Role: "device", Admitted: true}
			h.Records[recordKey("s", "did:six:dev", 3)] = true
			h.SetBalance("credit", "contract1", 50)
			res := call(t, p, h, "main", nil, 10_000_000)
			if res.Err != nil {
				t.Fatalf("%s\n%v", code, res.Err)
			}
			got := decode(t, res.Return)
			if !reflect.DeepEqual(normalize(got), normalize(tc.want)) {
				t.Fatalf("%s\ngot  %#v\nwant %#v", code, got, tc.want)
			}
		})
	}
}

// brokenHost fails storage reads for a reason of its own (not a chain rule).
type brokenHost struct{ *contractstest.Host }

var errDisk = errors.New("disk on fire")

func (brokenHost) StorageGet([]byte) ([]byte, bool, error) { return nil, false, errDisk }

func TestHostFailures(t *testing.T) {
	p := mustCheck(t, string(mustRead(t, "examples/counter.star")))
	// a Host error that is not a chain rule is returned, not metered
	_, err := contracts.Call(p, brokenHost{newHost()}, "get", nil, 1_000_000)
	if !errors.Is(err, errDisk) {
		t.Fatalf("got %v, want the host's error", err)
	}
	// no init defined: Init runs the top level; arguments are refused
	q := mustCheck(t, "EXPORTS = [\"f\"]\ndef f():\n    return 1\n")
	if res, err := contracts.Init(q, newHost(), nil, 1_000_000); err != nil || res.Err != nil {
		t.Fatalf("Init without init: %v %v", err, res.Err)
	}
	if res, _ := contracts.Init(q, newHost(), args(t, 1), 1_000_000); !errors.Is(res.Err, contracts.ErrBadArgs) {
		t.Fatalf("Init args without init: %v", res.Err)
	}
	// int arguments outside int32 fail alike on every machine
	r := mustCheck(t, "EXPORTS = [\"f\", \"g\", \"h\", \"i\", \"j\", \"k\"]\ndef f():\n    return chr(1099511627776)\ndef g():\n    return \"abc\".split(\"b\", 1099511627776)\ndef h():\n    return \"{4294967297}\".format(1, 2)\ndef i():\n    return [1].pop(4294967296)\ndef j():\n    return int(\"ff\", 4294967296)\ndef k():\n    return int(x = \"1\", base = 4294967296)\n")
	for _, m := range []string{"f", "g", "h", "i", "j", "k"} {
		if res := call(t, r, newHost(), m, nil, 1_000_000); !errors.Is(res.Err, contracts.ErrRuntime) {
			t.Fatalf("%s: %v", m, res.Err)
		}
	}
}
