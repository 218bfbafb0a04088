package contracts

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// run is the state of one Init or Call. It lives in the thread's locals so
// that the predeclared built-ins, which are shared by every call, reach it.
type run struct {
	host     Host
	thread   *starlark.Thread
	limit    uint64
	fixed    uint64 // gas charged outside interpreter steps
	outOfGas bool
	fatal    error // a host error that is not a rule of the chain
	events   []Event
	eventSz  int
}

const runKey = "sixdomain.contracts.run"

func getRun(t *starlark.Thread) *run { return t.Local(runKey).(*run) }

func satAdd(a, b uint64) uint64 {
	s, c := bits.Add64(a, b, 0)
	if c != 0 {
		return math.MaxUint64
	}
	return s
}

func satMul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 {
		return math.MaxUint64
	}
	return lo
}

// used is the gas used so far.
func (r *run) used() uint64 { return satAdd(r.fixed, satMul(r.thread.Steps, GasPerStep)) }

// remaining is the gas left, 0 when exhausted.
func (r *run) remaining() uint64 {
	u := r.used()
	if u >= r.limit {
		return 0
	}
	return r.limit - u
}

// charge takes g gas or ends the call out of gas, and lowers the step limit
// so that steps and charges draw on one budget.
func (r *run) charge(g uint64) error {
	r.fixed = satAdd(r.fixed, g)
	if r.used() > r.limit {
		r.outOfGas = true
		return ErrOutOfGas
	}
	r.thread.SetMaxExecutionSteps((r.limit-r.fixed)/GasPerStep + 1)
	return nil
}

// chargeUnits takes GasBuiltin plus units × GasPerUnit.
func (r *run) chargeUnits(units uint64) error {
	return r.charge(satAdd(GasBuiltin, satMul(units, GasPerUnit)))
}

// errUnknownLen refuses an iterable whose length is unknown up front:
// nothing could charge for it before a built-in walks it. (Every iterable a
// contract can make has a length; this guards against a future one.)
func errUnknownLen(v starlark.Value) error {
	return limitErr("%s of unknown length", v.Type())
}

func limitErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrLimit, fmt.Sprintf(format, args...))
}

// intBits is the width of an int.
func intBits(x starlark.Int) int {
	if v, ok := x.Int64(); ok {
		return bits.Len64(uint64(v)) // negative: 64
	}
	return x.BigInt().BitLen()
}

// intWords is the size of an int in units: its 64-bit words, plus
// bigIntUnits for an int beyond 64 bits, whose every operation allocates.
func intWords(x starlark.Int) uint64 {
	b := intBits(x)
	if b > 63 {
		return uint64(b+63)/64 + bigIntUnits
	}
	return 1
}

// bigIntUnits is the surcharge for an int operand wider than 64 bits.
const bigIntUnits = 8

// bytesPerUnit: a unit is one element, one int word or this many bytes.
const bytesPerUnit = 24

// shallow is the size of a value in units without looking inside elements.
func shallow(v starlark.Value) uint64 {
	switch v := v.(type) {
	case starlark.String:
		return uint64(len(v))/bytesPerUnit + 1
	case starlark.Bytes:
		return uint64(len(v))/bytesPerUnit + 1
	case starlark.Int:
		return intWords(v)
	case starlark.Indexable:
		return uint64(v.Len()) + 1
	case starlark.Sequence:
		return uint64(v.Len()) + 1
	}
	return 1
}

// elemAllocUnits is the charge for each list or tuple element a built-in
// allocates: pointer-bearing memory costs the collector more than bytes.
const elemAllocUnits = 2

// allocUnits is the size of a sequence in units when a built-in copies it.
func allocUnits(v starlark.Value) uint64 {
	switch v.(type) {
	case *starlark.List, starlark.Tuple:
		return satMul(shallow(v), elemAllocUnits)
	}
	return shallow(v)
}

// weigh walks v and returns its size in units. It stops with ErrOutOfGas
// once the size would cost more than the gas left, and with ErrLimit below
// MaxDepth, so its own work is bounded by what it charges.
func (r *run) weigh(v starlark.Value) (uint64, error) {
	budget := r.remaining()/GasPerUnit + 1
	var n uint64
	var walk func(v starlark.Value, depth int) error
	walk = func(v starlark.Value, depth int) error {
		if depth > MaxDepth {
			return limitErr("value nested deeper than %d", MaxDepth)
		}
		switch v := v.(type) {
		case *starlark.List:
			n++
			for i := 0; i < v.Len(); i++ {
				if err := walk(v.Index(i), depth+1); err != nil {
					return err
				}
			}
		case starlark.Tuple:
			n++
			for _, e := range v {
				if err := walk(e, depth+1); err != nil {
					return err
				}
			}
		case *starlark.Dict:
			n++
			if uint64(v.Len()) > budget {
				r.outOfGas = true
				return ErrOutOfGas
			}
			for _, kv := range v.Items() {
				if err := walk(kv[0], depth+1); err != nil {
					return err
				}
				if err := walk(kv[1], depth+1); err != nil {
					return err
				}
			}
		default:
			if _, ok := v.(starlark.Iterable); ok && starlark.Len(v) < 0 {
				return errUnknownLen(v)
			}
			n += shallow(v)
		}
		if n > budget {
			r.outOfGas = true
			return ErrOutOfGas
		}
		return nil
	}
	if err := walk(v, 0); err != nil {
		return 0, err
	}
	return n, nil
}

// chargeWeigh charges for walking every value in vs.
func (r *run) chargeWeigh(vs ...starlark.Value) error {
	var total uint64
	for _, v := range vs {
		n, err := r.weigh(v)
		if err != nil {
			return err
		}
		total = satAdd(total, n)
	}
	return r.chargeUnits(total)
}

// checkResult enforces the size limits on a value a built-in made.
func checkResult(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.String:
		if len(v) > MaxStringLen {
			return limitErr("string of %d bytes, at most %d", len(v), MaxStringLen)
		}
	case starlark.Bytes:
		if len(v) > MaxStringLen {
			return limitErr("bytes of %d, at most %d", len(v), MaxStringLen)
		}
	case starlark.Int:
		if b := intBits(v); b > MaxIntBits {
			return limitErr("int of %d bits, at most %d", b, MaxIntBits)
		}
	case *starlark.List, starlark.Tuple, *starlark.Dict:
		if v := v.(starlark.Sequence); v.Len() > MaxElems {
			return limitErr("%s of %d elements, at most %d", v.Type(), v.Len(), MaxElems)
		}
	}
	return nil
}

// checkInt32Args rejects int arguments outside int32: the library converts
// them to Go int, which is 32 bits on some machines and 64 on others.
func checkInt32Args(args starlark.Tuple, kwargs []starlark.Tuple) error {
	check := func(v starlark.Value) error {
		if i, ok := v.(starlark.Int); ok {
			if _, err := starlark.AsInt32(i); err != nil {
				return fmt.Errorf("integer argument %s out of the int32 range", i)
			}
		}
		return nil
	}
	for _, a := range args {
		if err := check(a); err != nil {
			return err
		}
	}
	for _, kv := range kwargs {
		if err := check(kv[1]); err != nil {
			return err
		}
	}
	return nil
}

// --- the rewritten operators ---

func isSeq(v starlark.Value) bool {
	switch v.(type) {
	case starlark.String, starlark.Bytes, *starlark.List, starlark.Tuple:
		return true
	}
	return false
}

// binaryCost is the units an operator may touch or allocate, computed
// before it runs.
func (r *run) binaryCost(op syntax.Token, x, y starlark.Value) (uint64, error) {
	xi, xInt := x.(starlark.Int)
	yi, yInt := y.(starlark.Int)
	switch op {
	case syntax.STAR:
		if xInt && yInt {
			if b := intBits(xi) + intBits(yi); b > MaxIntBits+1 {
				return 0, limitErr("int product of about %d bits, at most %d", b, MaxIntBits)
			}
			return satMul(intWords(xi), intWords(yi)), nil
		}
		seq, n := x, yi
		if xInt && isSeq(y) {
			seq, n = y, xi
		} else if !(yInt && isSeq(x)) {
			return shallow(x) + shallow(y), nil
		}
		count, ok := n.Uint64()
		if !ok { // negative or huge
			if n.Sign() <= 0 {
				return 1, nil
			}
			count = math.MaxUint64
		}
		return satAdd(1, satMul(allocUnits(seq), count)), nil
	case syntax.PERCENT:
		if s, ok := x.(starlark.String); ok {
			w, err := r.weigh(y)
			if err != nil {
				return 0, err
			}
			// each directive may print the whole argument
			return satAdd(shallow(s), satMul(uint64(strings.Count(string(s), "%")+1), w)), nil
		}
		if xInt && yInt {
			return satMul(intWords(xi), intWords(yi)), nil
		}
	case syntax.SLASHSLASH:
		if xInt && yInt {
			return satMul(intWords(xi), intWords(yi)), nil
		}
	case syntax.LTLT:
		if xInt && yInt {
			sh, err := starlark.AsInt32(yi)
			if err == nil && sh > 0 {
				if b := intBits(xi) + sh; b > MaxIntBits {
					return 0, limitErr("int shifted to %d bits, at most %d", b, MaxIntBits)
				}
				return intWords(xi) + uint64(sh)/64, nil
			}
		}
	case syntax.PIPE:
		if _, ok := x.(*starlark.Dict); !ok {
			break
		}
		// a dict union hashes every key again: weigh them
		fallthrough
	case syntax.EQL, syntax.NEQ, syntax.LT, syntax.LE, syntax.GT, syntax.GE, syntax.IN, syntax.NOT_IN:
		wx, err := r.weigh(x)
		if err != nil {
			return 0, err
		}
		wy, err := r.weigh(y)
		if err != nil {
			return 0, err
		}
		return wx + wy, nil
	}
	return satAdd(allocUnits(x), allocUnits(y)), nil
}

// seqLen is the length of a string, bytes, list or tuple, and whether it
// counts bytes.
func seqLen(v starlark.Value) (n uint64, isBytes, ok bool) {
	switch v := v.(type) {
	case starlark.String:
		return uint64(len(v)), true, true
	case starlark.Bytes:
		return uint64(len(v)), true, true
	case *starlark.List:
		return uint64(v.Len()), false, true
	case starlark.Tuple:
		return uint64(len(v)), false, true
	}
	return 0, false, false
}

// checkPredicted refuses a concatenation or repetition whose result would
// exceed the limits, before the library allocates it (with a large enough
// gas limit the charge alone would not stop it, and the library's own
// overflow checks differ between 32- and 64-bit machines).
func checkPredicted(op syntax.Token, x, y starlark.Value) error {
	var n uint64
	var isBytes bool
	switch op {
	case syntax.PLUS:
		lx, bx, okx := seqLen(x)
		ly, _, oky := seqLen(y)
		if !okx || !oky {
			return nil
		}
		n, isBytes = lx+ly, bx
	case syntax.STAR:
		seq, count := x, y
		if _, ok := x.(starlark.Int); ok {
			seq, count = y, x
		}
		l, b, ok := seqLen(seq)
		c, isInt := count.(starlark.Int)
		if !ok || !isInt {
			return nil
		}
		k, ok := c.Uint64()
		if !ok {
			if c.Sign() <= 0 {
				return nil
			}
			k = math.MaxUint64
		}
		n, isBytes = satMul(l, k), b
	default:
		return nil
	}
	if isBytes && n > MaxStringLen {
		return limitErr("result of %d bytes, at most %d", n, MaxStringLen)
	}
	if !isBytes && n > MaxElems {
		return limitErr("result of %d elements, at most %d", n, MaxElems)
	}
	return nil
}

func (r *run) binary(op syntax.Token, x, y starlark.Value) (starlark.Value, error) {
	units, err := r.binaryCost(op, x, y)
	if err != nil {
		return nil, err
	}
	if err := r.chargeUnits(units); err != nil {
		return nil, err
	}
	if err := checkPredicted(op, x, y); err != nil {
		return nil, err
	}
	var v starlark.Value
	switch op {
	case syntax.EQL, syntax.NEQ, syntax.LT, syntax.LE, syntax.GT, syntax.GE:
		var ok bool
		ok, err = starlark.Compare(op, x, y)
		v = starlark.Bool(ok)
	default:
		v, err = starlark.Binary(op, x, y)
	}
	if err != nil {
		return nil, err
	}
	return v, checkResult(v)
}

func opArgs(args starlark.Tuple, n int) error {
	if len(args) != n {
		return fmt.Errorf("internal: %d arguments, want %d", len(args), n)
	}
	return nil
}

func bOp(t *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
	if err := opArgs(args, 3); err != nil {
		return nil, err
	}
	op, _ := args[0].(starlark.Int).Int64()
	return getRun(t).binary(syntax.Token(op), args[1], args[2])
}

// bIop is x op= y: lists extend in place, as in Starlark.
func bIop(t *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
	if err := opArgs(args, 3); err != nil {
		return nil, err
	}
	r := getRun(t)
	op, _ := args[0].(starlark.Int).Int64()
	if l, ok := args[1].(*starlark.List); ok && syntax.Token(op) == syntax.PLUS {
		return l, r.extend(t, l, args[2])
	}
	if x, ok := args[1].(*starlark.Dict); ok && syntax.Token(op) == syntax.PIPE {
		if y, ok := args[2].(*starlark.Dict); ok {
			if err := r.chargeWeigh(y); err != nil {
				return nil, err
			}
			if x.Len()+y.Len() > MaxElems {
				return nil, limitErr("dict of more than %d entries", MaxElems)
			}
			update, err := x.Attr("update")
			if err != nil {
				return nil, err
			}
			_, err = starlark.Call(t, update, starlark.Tuple{y}, nil)
			return x, err
		}
	}
	return r.binary(syntax.Token(op), args[1], args[2])
}

func (r *run) extend(t *starlark.Thread, l *starlark.List, it starlark.Value) error {
	if _, ok := it.(starlark.Iterable); !ok {
		return fmt.Errorf("unknown binary op: list += %s", it.Type())
	}
	n := starlark.Len(it)
	if n < 0 {
		return errUnknownLen(it)
	}
	if err := r.chargeUnits(satMul(uint64(n), elemAllocUnits) + 1); err != nil {
		return err
	}
	if l.Len()+n > MaxElems {
		return limitErr("list of %d elements, at most %d", l.Len()+n, MaxElems)
	}
	m, err := l.Attr("extend") // the library's own extend appends in bulk
	if err != nil {
		return err
	}
	_, err = starlark.Call(t, m, starlark.Tuple{it}, nil)
	return err
}

// collect materialises an iterable, charging per element before it grows.
func (r *run) collect(it starlark.Value) ([]starlark.Value, error) {
	n := starlark.Len(it)
	if n >= 0 {
		if err := r.chargeUnits(satMul(uint64(n), elemAllocUnits) + 1); err != nil {
			return nil, err
		}
		if n > MaxElems {
			return nil, limitErr("%d elements, at most %d", n, MaxElems)
		}
	}
	iterable, ok := it.(starlark.Iterable)
	if !ok {
		return nil, fmt.Errorf("got %s, want iterable", it.Type())
	}
	iter := iterable.Iterate()
	defer iter.Done()
	var out []starlark.Value
	if n > 0 {
		out = make([]starlark.Value, 0, n)
	}
	var x starlark.Value
	for iter.Next(&x) {
		if n < 0 {
			if err := r.charge(GasPerUnit * elemAllocUnits); err != nil {
				return nil, err
			}
		}
		if len(out) >= MaxElems {
			return nil, limitErr("more than %d elements", MaxElems)
		}
		out = append(out, x)
	}
	return out, nil
}

func bIndex(t *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
	if err := opArgs(args, 2); err != nil {
		return nil, err
	}
	r := getRun(t)
	x, k := args[0], args[1]
	switch x := x.(type) {
	case starlark.Mapping:
		if err := r.chargeWeigh(k); err != nil {
			return nil, err
		}
		v, found, err := x.Get(k)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, fmt.Errorf("key %s not in %s", shortRepr(k), x.Type())
		}
		return v, nil
	case starlark.Indexable:
		if err := r.chargeUnits(1); err != nil {
			return nil, err
		}
		i, err := starlark.AsInt32(k)
		if err != nil {
			return nil, fmt.Errorf("%s index: %v", x.Type(), err)
		}
		n := x.Len()
		if i < 0 {
			i += n
		}
		if i < 0 || i >= n {
			return nil, fmt.Errorf("%s index %s out of range [0:%d]", x.Type(), k, n)
		}
		return x.Index(i), nil
	}
	return nil, fmt.Errorf("unhandled index operation %s[%s]", x.Type(), k.Type())
}

// shortRepr prints small strings and ints, and only the type of anything
// else (printing an arbitrary value would be unmetered work).
func shortRepr(v starlark.Value) string {
	switch v := v.(type) {
	case starlark.String:
		if len(v) <= 64 {
			return v.String()
		}
	case starlark.Int:
		if _, ok := v.Int64(); ok {
			return v.String()
		}
	}
	return "(" + v.Type() + ")"
}

func bSetIndex(t *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
	if err := opArgs(args, 3); err != nil {
		return nil, err
	}
	r := getRun(t)
	x, k, v := args[0], args[1], args[2]
	switch x := x.(type) {
	case *starlark.Dict:
		w, err := r.weigh(k)
		if err != nil {
			return nil, err
		}
		if err := r.chargeUnits(w + 2); err != nil {
			return nil, err
		}
		if x.Len() >= MaxElems {
			if _, found, _ := x.Get(k); !found {
				return nil, limitErr("dict of more than %d entries", MaxElems)
			}
		}
		return starlark.None, x.SetKey(k, v)
	case starlark.HasSetIndex:
		if err := r.chargeUnits(1); err != nil {
			return nil, err
		}
		i, err := starlark.AsInt32(k)
		if err != nil {
			return nil, fmt.Errorf("%s index: %v", x.Type(), err)
		}
		n := x.Len()
		if i < 0 {
			i += n
		}
		if i < 0 || i >= n {
			return nil, fmt.Errorf("%s index %s out of range [0:%d]", x.Type(), k, n)
		}
		return starlark.None, x.SetIndex(i, v)
	}
	return nil, fmt.Errorf("%s value does not support item assignment", x.Type())
}

func asIndex(v starlark.Value, n int, result *int) error {
	if v != starlark.None {
		i, err := starlark.AsInt32(v)
		if err != nil {
			return err
		}
		if i < 0 {
			i += n
		}
		*result = i
	}
	return nil
}

// bSlice is x[lo:hi:step], with Starlark's index rules.
func bSlice(t *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
	if err := opArgs(args, 4); err != nil {
		return nil, err
	}
	r := getRun(t)
	x, ok := args[0].(starlark.Sliceable)
	if !ok {
		return nil, fmt.Errorf("invalid slice operand %s", args[0].Type())
	}
	if err := r.chargeUnits(shallow(x)); err != nil {
		return nil, err
	}
	lo, hi, stepv := args[1], args[2], args[3]
	n := x.Len()
	step := 1
	if stepv != starlark.None {
		var err error
		if step, err = starlark.AsInt32(stepv); err != nil {
			return nil, fmt.Errorf("invalid slice step: %s", err)
		}
		if step == 0 {
			return nil, errors.New("zero is not a valid slice step")
		}
	}
	var start, end int
	if step > 0 {
		start, end = 0, n
		if err := asIndex(lo, n, &start); err != nil {
			return nil, fmt.Errorf("invalid start index: %s", err)
		}
		start = min(max(start, 0), n)
		if err := asIndex(hi, n, &end); err != nil {
			return nil, fmt.Errorf("invalid end index: %s", err)
		}
		end = min(max(end, 0), n)
		if end < start {
			end = start
		}
	} else {
		start = n - 1
		if err := asIndex(lo, n, &start); err != nil {
			return nil, fmt.Errorf("invalid start index: %s", err)
		}
		if start >= n {
			start = n - 1
		}
		end = -1
		if err := asIndex(hi, n, &end); err != nil {
			return nil, fmt.Errorf("invalid end index: %s", err)
		}
		if end < -1 {
			end = -1
		}
		if start < end {
			start = end
		}
	}
	return x.Slice(start, end, step), nil
}

// bDict is a dict literal {k: v, ...}: its keys are hashed here, metered.
func bDict(t *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
	r := getRun(t)
	d := starlark.NewDict(len(args) / 2)
	for i := 0; i+1 < len(args); i += 2 {
		if err := r.chargeWeigh(args[i]); err != nil {
			return nil, err
		}
		if _, found, err := d.Get(args[i]); err != nil {
			return nil, err
		} else if found {
			return nil, fmt.Errorf("duplicate key: %s", shortRepr(args[i]))
		}
		if err := d.SetKey(args[i], args[i+1]); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// bDictPairs builds a dict comprehension from its list of (key, value).
func bDictPairs(t *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
	if err := opArgs(args, 1); err != nil {
		return nil, err
	}
	r := getRun(t)
	l := args[0].(*starlark.List)
	d := starlark.NewDict(l.Len())
	for i := 0; i < l.Len(); i++ {
		kv := l.Index(i).(starlark.Tuple)
		if err := r.chargeWeigh(kv[0]); err != nil {
			return nil, err
		}
		if err := d.SetKey(kv[0], kv[1]); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// --- attributes and methods ---

func attrOf(x starlark.Value, name string) (starlark.Value, error) {
	ha, ok := x.(starlark.HasAttrs)
	if !ok {
		return nil, fmt.Errorf("%s has no .%s field or method", x.Type(), name)
	}
	v, err := ha.Attr(name)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, fmt.Errorf("%s has no .%s field or method", x.Type(), name)
	}
	return v, nil
}

// bAttr is x.name outside a call. A method comes back wrapped, so that
// calling it later is metered too.
func bAttr(t *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
	if err := opArgs(args, 2); err != nil {
		return nil, err
	}
	recv, name := args[0], string(args[1].(starlark.String))
	v, err := attrOf(recv, name)
	if err != nil {
		return nil, err
	}
	if b, ok := v.(*starlark.Builtin); ok && b.Receiver() != nil {
		return starlark.NewBuiltin(name, func(t *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			return getRun(t).method(t, recv, name, args, kwargs)
		}), nil
	}
	return v, nil
}

func bMethod(t *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) < 2 {
		return nil, errors.New("internal: method call without receiver")
	}
	return getRun(t).method(t, args[0], string(args[1].(starlark.String)), args[2:], kwargs)
}

func strArg(v starlark.Value) int {
	switch v := v.(type) {
	case starlark.String:
		return len(v)
	case starlark.Bytes:
		return len(v)
	}
	return 0
}

// methodCost is the units a built-in method may touch or allocate,
// computed before it runs.
func (r *run) methodCost(recv starlark.Value, name string, args starlark.Tuple, kwargs []starlark.Tuple) (units, outLen uint64, err error) {
	units, err = r.methodUnits(recv, name, args, kwargs, &outLen)
	return units, outLen, err
}

// methodUnits is methodCost's body; it sets *outLen when the length of a
// string result is known in advance (join, replace).
func (r *run) methodUnits(recv starlark.Value, name string, args starlark.Tuple, kwargs []starlark.Tuple, outLen *uint64) (uint64, error) {
	argBytes := 0
	for _, a := range args {
		argBytes += strArg(a)
	}
	switch recv := recv.(type) {
	case starlark.String:
		s := string(recv)
		n := uint64(len(s))/bytesPerUnit + 1
		switch name {
		case "join":
			if len(args) != 1 {
				return n, nil
			}
			elems, err := r.collect(args[0])
			if err != nil {
				return 0, err
			}
			total := uint64(len(s)) * uint64(len(elems))
			for _, e := range elems {
				total += uint64(strArg(e))
			}
			*outLen = total
			return total/bytesPerUnit + uint64(len(elems)) + 1, nil
		case "replace":
			if len(args) >= 2 {
				old, _ := args[0].(starlark.String)
				nw, _ := args[1].(starlark.String)
				occ := uint64(strings.Count(s, string(old)))
				*outLen = uint64(len(s)) + occ*uint64(len(nw))
				return 2*n + (occ*uint64(len(nw)))/bytesPerUnit + occ, nil
			}
		case "format":
			w, err := r.weigh(starlark.Tuple(args))
			if err != nil {
				return 0, err
			}
			for _, kv := range kwargs {
				x, err := r.weigh(kv[1])
				if err != nil {
					return 0, err
				}
				w += x
			}
			return satAdd(n, satMul(uint64(strings.Count(s, "{")+1), w)), nil
		case "split", "rsplit", "splitlines", "elems", "codepoints", "elem_ords", "codepoint_ords", "partition", "rpartition":
			return 3*uint64(len(s)) + 1, nil
		}
		return n + uint64(argBytes)/bytesPerUnit, nil
	case starlark.Bytes:
		return uint64(len(recv))/bytesPerUnit + 1, nil
	case *starlark.List:
		switch name {
		case "append":
			return 2, nil
		case "extend":
			if len(args) == 1 {
				return shallow(args[0]), nil
			}
		case "index", "remove":
			w, err := r.weigh(recv)
			if err != nil {
				return 0, err
			}
			return w + uint64(argBytes)/bytesPerUnit, nil
		}
		return uint64(recv.Len()) + 1, nil
	case *starlark.Dict:
		switch name {
		case "get", "pop", "setdefault":
			if len(args) > 0 {
				w, err := r.weigh(args[0])
				return w + 2, err
			}
		case "keys", "values":
			return 2*uint64(recv.Len()) + 1, nil
		case "items":
			return 5*uint64(recv.Len()) + 1, nil
		case "update":
			w, err := r.weigh(starlark.Tuple(args))
			if err != nil {
				return 0, err
			}
			return w + 2*uint64(len(kwargs)) + 1, nil
		}
		return uint64(recv.Len()) + 1, nil
	}
	return 1, nil
}

// int32Methods are the methods whose int arguments the library reads as Go
// int (list.insert and pop, str.replace, split and rsplit); the others
// take ints as Starlark values, and any element value is fine.
var int32Methods = map[string]bool{"insert": true, "pop": true, "replace": true, "split": true, "rsplit": true}

// checkFormatIndices refuses "{N}" fields of more than nine digits: the
// library parses them into a Go int, which overflows differently on 32- and
// 64-bit machines.
func checkFormatIndices(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] != '{' {
			continue
		}
		if i+1 < len(s) && s[i+1] == '{' {
			i++
			continue
		}
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j-i-1 > 9 {
			return fmt.Errorf("format: field index %s too large", s[i+1:min(j, i+21)])
		}
		i = j - 1
	}
	return nil
}

func (r *run) method(t *starlark.Thread, recv starlark.Value, name string, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	m, err := attrOf(recv, name)
	if err != nil {
		return nil, err
	}
	if int32Methods[name] {
		if err := checkInt32Args(args, kwargs); err != nil {
			return nil, err
		}
	}
	if s, ok := recv.(starlark.String); ok && name == "format" {
		if err := checkFormatIndices(string(s)); err != nil {
			return nil, err
		}
	}
	units, outLen, err := r.methodCost(recv, name, args, kwargs)
	if err != nil {
		return nil, err
	}
	if err := r.chargeUnits(units); err != nil {
		return nil, err
	}
	if outLen > MaxStringLen {
		return nil, limitErr("%s: result of %d bytes, at most %d", name, outLen, MaxStringLen)
	}
	if l, ok := recv.(*starlark.List); ok && name == "extend" && len(args) == 1 && len(kwargs) == 0 {
		return starlark.None, r.extend(t, l, args[0])
	}
	if l, ok := recv.(*starlark.List); ok && (name == "append" || name == "insert") && l.Len() >= MaxElems {
		return nil, limitErr("list of more than %d elements", MaxElems)
	}
	if d, ok := recv.(*starlark.Dict); ok && (name == "update" || name == "setdefault") && d.Len() >= MaxElems {
		return nil, limitErr("dict of more than %d entries", MaxElems)
	}
	v, err := starlark.Call(t, m, args, kwargs)
	if err != nil {
		return nil, err
	}
	return v, checkResult(v)
}
