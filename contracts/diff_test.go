package contracts_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/sixdomain/sixdomain/contracts"
)

// plainGo converts a result of unmodified Starlark the way the engine's
// CBOR round trip does (tuples become lists; non-negative ints uint64).
func plainGo(v starlark.Value) (any, bool) {
	switch v := v.(type) {
	case starlark.NoneType:
		return nil, true
	case starlark.Bool:
		return bool(v), true
	case starlark.Int:
		if u, ok := v.Uint64(); ok {
			return u, true
		}
		if i, ok := v.Int64(); ok {
			return i, true
		}
	case starlark.String:
		return string(v), true
	case starlark.Bytes:
		return []byte(v), true
	case *starlark.List, starlark.Tuple:
		it := v.(starlark.Indexable)
		out := []any{}
		for i := 0; i < it.Len(); i++ {
			e, ok := plainGo(it.Index(i))
			if !ok {
				return nil, false
			}
			out = append(out, e)
		}
		return out, true
	case *starlark.Dict:
		out := map[string]any{}
		for _, kv := range v.Items() {
			k, ok := kv[0].(starlark.String)
			if !ok {
				return nil, false
			}
			e, ok := plainGo(kv[1])
			if !ok {
				return nil, false
			}
			out[string(k)] = e
		}
		return out, true
	}
	return nil, false
}

// differential runs code in the engine and, when the engine bounded the
// work (success or a runtime error), in unmodified Starlark too: the two
// must agree on the value or on failing.
func differential(t *testing.T, code []byte) (compared bool) {
	p, err := contracts.Check(code)
	if err != nil {
		return false
	}
	if len(p.Exports()) == 0 || p.Exports()[0] != "main" {
		return false
	}
	res, err := contracts.Call(p, newHost(), "main", nil, 2_000_000)
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	if res.Err != nil && !errors.Is(res.Err, contracts.ErrRuntime) && !errors.Is(res.Err, contracts.ErrFail) {
		return false // a metered limit: unmodified Starlark would not stop
	}
	thread := &starlark.Thread{Name: "plain", Print: func(*starlark.Thread, string) {}}
	thread.SetMaxExecutionSteps(10_000_000)
	globals, perr := starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "contract.star", code, nil)
	if perr != nil {
		var se syntax.Error
		if errors.As(perr, &se) || strings.Contains(perr.Error(), "undefined") {
			return false // uses the host API, or a name only the engine has
		}
	}
	var v starlark.Value
	if perr == nil {
		v, perr = starlark.Call(thread, globals["main"], nil, nil)
	}
	switch {
	case res.Err == nil && perr != nil:
		if strings.Contains(perr.Error(), "too many steps") {
			return false
		}
		t.Fatalf("engine returned, Starlark failed: %v\n%s", perr, code)
	case res.Err != nil && perr == nil:
		if strings.Contains(res.Err.Error(), "int32") {
			return false // the engine's portable-int rule
		}
		t.Fatalf("engine failed (%v), Starlark returned %s\n%s", res.Err, v, code)
	case res.Err == nil:
		want, ok := plainGo(v)
		if !ok {
			return false
		}
		got, err := contracts.DecodeValue(res.Return)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("engine %#v, Starlark %#v\n%s", got, want, code)
		}
	}
	return true
}

func wrapMain(body string) []byte {
	return []byte("EXPORTS = [\"main\"]\n\ndef main():\n    " + strings.ReplaceAll(body, "\n", "\n    ") + "\n")
}

var diffSeeds = []string{
	"return 7 // 2, -7 // 2, 7 % 3, -7 % 3, 1 << 10, 1024 >> 3, 6 & 3, 6 | 3, 6 ^ 3, -(5), ~5",
	"a = [1]\nb = a\na += [2]\na += (3,)\nreturn b",
	"d = {\"k\": [1]}\nd[\"k\"] += [2]\nl = [1, 2, 3]\nl[-1] *= 4\nreturn d, l",
	"s = \"abcdef\"\nreturn s[1:3], s[::-1], s[-2:], s[5:1:-2], s[100:], [1, 2, 3][-100:2]",
	"return {k: len(k) for k in [\"a\", \"bb\"]}, {\"x\": 1, \"y\": [2]}",
	"return \"a%sb%dc\" % (\"x\", 3), \"%(k)s\" % {\"k\": 1}, \"{}{}\".format(1, \"z\")",
	"return sorted([3, 1, 2], key = lambda x: -x), max([1, 5], key = lambda x: -x), min(\"b\", \"a\")",
	"return \" a b \".split(), \"a,b,,c\".split(\",\", 2), \"abc\".replace(\"\", \"-\"), \"-\".join([\"x\", \"y\"])",
	"x = 1\nfor i in range(70):\n    x = x * 3 + i\nreturn x % 1000000007",
	"l = []\nfor i in range(5):\n    l.append(i * i)\nl.insert(1, 9)\nl.remove(9)\nreturn l, l.pop(0), l.index(4), reversed(l), enumerate(l)[1:]",
	"d = {}\nd[(1, 2)] = 3\nreturn d[(1, 2)], (1, 2) in d, d.get((3,), \"no\"), list(d.keys())",
	"return [1, 2] < [1, 3], (1, \"a\") >= (1, \"a\"), \"b\" in \"abc\", 3 not in [1, 2], {} == {}",
	"r = \"a.b.c\".split\nf = [1, 2].index\nreturn r(\".\"), f(2)",
	"return int(\"-42\"), int(\"0x1f\", 16), str(10), repr(b\"\\x00a\"), bytes(\"é\"), hash(\"abc\")",
	"return [1, 2] * 2, 2 * (1,), \"ab\" * 2, b\"x\" * 3, [] * 5",
	"t = (1, [2])\nreturn t[1][0], t[-1], len(t)",
	"l = [1]\nl.append(1099511627776)\nd = {}\nd.setdefault(\"k\", -1099511627776)\nreturn l, d, d.get(\"z\", 1099511627776), \"{}\".format(1099511627776), l.index(1099511627776)",
	"return {\"a\": 1} | {\"b\": 2}, [x for x in range(10) if x % 3 == 0], [[y for y in range(x)] for x in range(3)]",
}

// TestDifferential runs the seeds through the engine and through
// unmodified Starlark: the rewriting must not change what a program means.
func TestDifferential(t *testing.T) {
	for _, s := range diffSeeds {
		if !differential(t, wrapMain(s)) {
			t.Errorf("seed not compared (rejected or skipped):\n%s", s)
		}
	}
}

// FuzzDiff is the same comparison over random method bodies.
func FuzzDiff(f *testing.F) {
	for _, s := range diffSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 4096 {
			return
		}
		differential(t, wrapMain(string(body)))
	})
}
