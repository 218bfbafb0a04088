package contracts

import (
	"errors"
	"fmt"
	"math/bits"
	"strings"

	"go.starlark.net/starlark"
)

type builtinFn = func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error)

// predeclared is the contract's whole environment besides Starlark's own
// cheap built-ins (len, bool, type, abs, chr, ord, None, True, False). It is
// built once and frozen; everything per call lives in the thread.
var predeclared = func() starlark.StringDict {
	d := starlark.StringDict{
		"$none":      starlark.None,
		"$op":        starlark.NewBuiltin("operator", bOp),
		"$iop":       starlark.NewBuiltin("operator", bIop),
		"$index":     starlark.NewBuiltin("index", bIndex),
		"$setindex":  starlark.NewBuiltin("index", bSetIndex),
		"$slice":     starlark.NewBuiltin("slice", bSlice),
		"$dict":      starlark.NewBuiltin("dict", bDict),
		"$dictpairs": starlark.NewBuiltin("dict", bDictPairs),
		"$attr":      starlark.NewBuiltin("attribute", bAttr),
		"$method":    starlark.NewBuiltin("method", bMethod),

		"list":     starlark.NewBuiltin("list", bList),
		"tuple":    starlark.NewBuiltin("tuple", bTuple),
		"reversed": starlark.NewBuiltin("reversed", bReversed),
		"fail":     starlark.NewBuiltin("fail", bFail),

		"caller":        starlark.NewBuiltin("caller", hCaller),
		"caller_role":   starlark.NewBuiltin("caller_role", hCallerRole),
		"caller_key":    starlark.NewBuiltin("caller_key", hCallerKey),
		"paid":          starlark.NewBuiltin("paid", hPaid),
		"self_address":  starlark.NewBuiltin("self_address", hSelf),
		"block_height":  starlark.NewBuiltin("block_height", hBlockHeight),
		"block_time":    starlark.NewBuiltin("block_time", hBlockTime),
		"storage_get":   starlark.NewBuiltin("storage_get", hStorageGet),
		"storage_has":   starlark.NewBuiltin("storage_has", hStorageHas),
		"storage_set":   starlark.NewBuiltin("storage_set", hStorageSet),
		"storage_del":   starlark.NewBuiltin("storage_del", hStorageDel),
		"transfer":      starlark.NewBuiltin("transfer", hTransfer),
		"balance":       starlark.NewBuiltin("balance", hBalance),
		"lookup_did":    starlark.NewBuiltin("lookup_did", hLookupDID),
		"record_exists": starlark.NewBuiltin("record_exists", hRecordExists),
		"emit":          starlark.NewBuiltin("emit", hEmit),
	}
	// Universe built-ins whose work depends on their arguments: charged
	// before they run, their results bounded after.
	for name, w := range map[string]wrapped{
		"range":     {costConst, true},
		"bool":      {costConst, false},
		"sorted":    {costSorted, false},
		"dict":      {costWeighAll, false},
		"enumerate": {costLens(3), true},
		"zip":       {costLens(3), false},
		"min":       {costWeighAll, false},
		"max":       {costWeighAll, false},
		"any":       {costLens(1), false},
		"all":       {costLens(1), false},
		"str":       {costWeighAll, false},
		"repr":      {costWeighAll, false},
		"bytes":     {costWeighAll, false},
		"hash":      {costWeighAll, false},
		"int":       {costInt, false},
		"abs":       {costWeighAll, false},
	} {
		d[name] = wrapUniverse(name, w)
	}
	d.Freeze()
	return d
}()

func isPredeclared(name string) bool { return predeclared.Has(name) }

// wrapped is how a universe built-in is metered: its cost before it runs,
// and whether its int arguments must fit in int32 (the library reads them
// as Go int).
type wrapped struct {
	cost      func(*run, starlark.Tuple, []starlark.Tuple) (uint64, error)
	int32Args bool
}

func wrapUniverse(name string, w wrapped) *starlark.Builtin {
	native := starlark.Universe[name]
	return starlark.NewBuiltin(name, func(t *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		r := getRun(t)
		if w.int32Args {
			if err := checkInt32Args(args, kwargs); err != nil {
				return nil, err
			}
		}
		units, err := w.cost(r, args, kwargs)
		if err != nil {
			return nil, err
		}
		if err := r.chargeUnits(units); err != nil {
			return nil, err
		}
		v, err := starlark.Call(t, native, args, kwargs)
		if err != nil {
			return nil, err
		}
		return v, checkResult(v)
	})
}

func costConst(*run, starlark.Tuple, []starlark.Tuple) (uint64, error) { return 1, nil }

func costWeighAll(r *run, args starlark.Tuple, kwargs []starlark.Tuple) (uint64, error) {
	var total uint64
	for _, a := range args {
		w, err := r.weigh(a)
		if err != nil {
			return 0, err
		}
		total = satAdd(total, w)
	}
	for _, kv := range kwargs {
		w, err := r.weigh(kv[1])
		if err != nil {
			return 0, err
		}
		total = satAdd(total, w)
	}
	return total, nil
}

func costLens(per uint64) func(*run, starlark.Tuple, []starlark.Tuple) (uint64, error) {
	return func(r *run, args starlark.Tuple, _ []starlark.Tuple) (uint64, error) {
		var total uint64
		for _, a := range args {
			n := starlark.Len(a)
			if _, ok := a.(starlark.Iterable); ok && n < 0 {
				return 0, errUnknownLen(a)
			}
			if n > 0 {
				total = satAdd(total, satMul(uint64(n), per))
			}
		}
		return total + 1, nil
	}
}

func costSorted(r *run, args starlark.Tuple, kwargs []starlark.Tuple) (uint64, error) {
	if len(args) == 0 {
		return 1, nil
	}
	w, err := r.weigh(args[0])
	if err != nil {
		return 0, err
	}
	n := starlark.Len(args[0])
	if n < 0 {
		return 0, errUnknownLen(args[0])
	}
	return satMul(w, uint64(bits.Len(uint(n))+1)), nil
}

func costInt(r *run, args starlark.Tuple, kwargs []starlark.Tuple) (uint64, error) {
	var x, base starlark.Value
	if len(args) > 0 {
		x = args[0]
	}
	if len(args) > 1 {
		base = args[1]
	}
	for _, kv := range kwargs {
		switch kv[0].(starlark.String) {
		case "x":
			x = kv[1]
		case "base":
			base = kv[1]
		}
	}
	if base != nil { // the library reads the base as a Go int
		if err := checkInt32Args(starlark.Tuple{base}, nil); err != nil {
			return 0, err
		}
	}
	if s, ok := x.(starlark.String); ok {
		if len(s) > MaxIntBits/3+8 {
			return 0, limitErr("int(): string of %d bytes", len(s))
		}
		n := uint64(len(s))/bytesPerUnit + 1
		return n * n, nil // parsing is quadratic
	}
	return costWeighAll(r, args, kwargs)
}

func oneArg(name string, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) != 1 || len(kwargs) != 0 {
		return nil, fmt.Errorf("%s: want exactly one positional argument", name)
	}
	return args[0], nil
}

func bList(t *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) == 0 && len(kwargs) == 0 {
		return starlark.NewList(nil), getRun(t).chargeUnits(1)
	}
	x, err := oneArg("list", args, kwargs)
	if err != nil {
		return nil, err
	}
	elems, err := getRun(t).collect(x)
	if err != nil {
		return nil, err
	}
	return starlark.NewList(elems), nil
}

func bTuple(t *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) == 0 && len(kwargs) == 0 {
		return starlark.Tuple(nil), getRun(t).chargeUnits(1)
	}
	x, err := oneArg("tuple", args, kwargs)
	if err != nil {
		return nil, err
	}
	elems, err := getRun(t).collect(x)
	if err != nil {
		return nil, err
	}
	return starlark.Tuple(elems), nil
}

func bReversed(t *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	x, err := oneArg("reversed", args, kwargs)
	if err != nil {
		return nil, err
	}
	elems, err := getRun(t).collect(x)
	if err != nil {
		return nil, err
	}
	for i, j := 0, len(elems)-1; i < j; i, j = i+1, j-1 {
		elems[i], elems[j] = elems[j], elems[i]
	}
	return starlark.NewList(elems), nil
}

// bFail is fail(*args, sep=" "): the call ends with ErrFail and the message.
func bFail(t *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := getRun(t)
	sep := " "
	if err := starlark.UnpackArgs("fail", nil, kwargs, "sep?", &sep); err != nil {
		return nil, err
	}
	if err := r.chargeWeigh(args); err != nil {
		return nil, err
	}
	parts := make([]string, len(args))
	for i, a := range args {
		if s, ok := a.(starlark.String); ok {
			parts[i] = string(s)
		} else {
			parts[i] = a.String()
		}
	}
	msg := strings.Join(parts, sep)
	if len(msg) > 1024 {
		msg = msg[:1024] + "..."
	}
	return nil, &failError{msg}
}

type failError struct{ msg string }

func (e *failError) Error() string { return e.msg }
func (e *failError) Unwrap() error { return ErrFail }

// --- the host API ---

// hostErr classifies an error from the Host: a rule of the chain ends the
// call with a metered failure, anything else aborts it as fatal.
func (r *run) hostErr(err error) error {
	if errors.Is(err, ErrHostRule) {
		return err
	}
	r.fatal = err
	return err
}

func noArgs(name string, args starlark.Tuple, kwargs []starlark.Tuple) error {
	if len(args) != 0 || len(kwargs) != 0 {
		return fmt.Errorf("%s: takes no arguments", name)
	}
	return nil
}

func hostConst(name string, t *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (*run, error) {
	if err := noArgs(name, args, kwargs); err != nil {
		return nil, err
	}
	r := getRun(t)
	return r, r.chargeUnits(1)
}

func hCaller(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r, err := hostConst(b.Name(), t, args, kwargs)
	if err != nil {
		return nil, err
	}
	return starlark.String(r.host.Caller().DID), nil
}

func hCallerRole(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r, err := hostConst(b.Name(), t, args, kwargs)
	if err != nil {
		return nil, err
	}
	return starlark.String(r.host.Caller().Role), nil
}

func hCallerKey(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r, err := hostConst(b.Name(), t, args, kwargs)
	if err != nil {
		return nil, err
	}
	return starlark.Bytes(r.host.Caller().Key), nil
}

func hSelf(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r, err := hostConst(b.Name(), t, args, kwargs)
	if err != nil {
		return nil, err
	}
	return starlark.String(r.host.Address()), nil
}

func hBlockHeight(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r, err := hostConst(b.Name(), t, args, kwargs)
	if err != nil {
		return nil, err
	}
	return starlark.MakeUint64(r.host.Block().Height), nil
}

func hBlockTime(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r, err := hostConst(b.Name(), t, args, kwargs)
	if err != nil {
		return nil, err
	}
	return starlark.MakeInt64(r.host.Block().TimeMs), nil
}

func hPaid(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var denom string
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &denom); err != nil {
		return nil, err
	}
	r := getRun(t)
	if err := r.chargeUnits(1); err != nil {
		return nil, err
	}
	var total uint64
	for _, c := range r.host.Caller().Paid {
		if c.Denom == denom {
			total = satAdd(total, c.Amount)
		}
	}
	return starlark.MakeUint64(total), nil
}

// storageKey accepts a string or bytes key of 1 to MaxStorageKey bytes.
func storageKey(name string, v starlark.Value) ([]byte, error) {
	var k []byte
	switch v := v.(type) {
	case starlark.String:
		k = []byte(v)
	case starlark.Bytes:
		k = []byte(v)
	default:
		return nil, fmt.Errorf("%w: %s: key must be string or bytes, got %s", ErrStorageArg, name, v.Type())
	}
	if len(k) == 0 || len(k) > MaxStorageKey {
		return nil, fmt.Errorf("%w: %s: key of %d bytes, want 1 to %d", ErrStorageArg, name, len(k), MaxStorageKey)
	}
	return k, nil
}

func (r *run) storageRead(name string, kv starlark.Value) ([]byte, bool, error) {
	key, err := storageKey(name, kv)
	if err != nil {
		return nil, false, err
	}
	if err := r.charge(GasStorageRead + GasStorageByte*uint64(len(key))); err != nil {
		return nil, false, err
	}
	val, found, err := r.host.StorageGet(key)
	if err != nil {
		return nil, false, r.hostErr(err)
	}
	return val, found, r.charge(GasStorageByte * uint64(len(val)))
}

func hStorageGet(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key starlark.Value
	var def starlark.Value = starlark.None
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &key, &def); err != nil {
		return nil, err
	}
	r := getRun(t)
	val, found, err := r.storageRead(b.Name(), key)
	if err != nil || !found {
		return def, err
	}
	v, err := decodeCBOR(val)
	if err != nil {
		return nil, r.hostErr(fmt.Errorf("contracts: stored value does not decode: %v", err))
	}
	return v, nil
}

func hStorageHas(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key starlark.Value
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &key); err != nil {
		return nil, err
	}
	_, found, err := getRun(t).storageRead(b.Name(), key)
	return starlark.Bool(found), err
}

func (r *run) storageWrite(name string, kv starlark.Value, val []byte) error {
	key, err := storageKey(name, kv)
	if err != nil {
		return err
	}
	if err := r.charge(GasStorageWrite + GasStorageByte*uint64(len(key)+len(val))); err != nil {
		return err
	}
	_, found, err := r.host.StorageGet(key)
	if err != nil {
		return r.hostErr(err)
	}
	if !found && val != nil {
		if err := r.charge(GasStorageNewKey); err != nil {
			return err
		}
	}
	if err := r.host.StorageSet(key, val); err != nil {
		return r.hostErr(err)
	}
	return nil
}

// hStorageSet is storage_set(key, value); None deletes.
func hStorageSet(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key, value starlark.Value
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 2, &key, &value); err != nil {
		return nil, err
	}
	r := getRun(t)
	var enc []byte
	if value != starlark.None {
		if err := r.chargeUnits(shallow(value)); err != nil {
			return nil, err
		}
		var err error
		if enc, err = encodeCBOR(value, MaxStorageValue); err != nil {
			return nil, fmt.Errorf("%w: storage_set: %v", ErrStorageArg, err)
		}
	}
	return starlark.None, r.storageWrite(b.Name(), key, enc)
}

func hStorageDel(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key starlark.Value
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &key); err != nil {
		return nil, err
	}
	return starlark.None, getRun(t).storageWrite(b.Name(), key, nil)
}

func amountArg(name string, v starlark.Int) (uint64, error) {
	a, ok := v.Uint64()
	if !ok {
		return 0, fmt.Errorf("%s: amount %s out of range [0, 2^64)", name, shortRepr(v))
	}
	return a, nil
}

func hTransfer(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var denom, to string
	var amount starlark.Int
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 3, &denom, &to, &amount); err != nil {
		return nil, err
	}
	a, err := amountArg(b.Name(), amount)
	if err != nil {
		return nil, err
	}
	r := getRun(t)
	if err := r.charge(GasTransfer + uint64(len(denom)+len(to))); err != nil {
		return nil, err
	}
	if err := r.host.Transfer(denom, to, a); err != nil {
		return nil, r.hostErr(err)
	}
	return starlark.None, nil
}

func hBalance(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var denom, owner string
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 2, &denom, &owner); err != nil {
		return nil, err
	}
	r := getRun(t)
	if err := r.charge(GasHostCall + uint64(len(denom)+len(owner))); err != nil {
		return nil, err
	}
	v, err := r.host.Balance(denom, owner)
	if err != nil {
		return nil, r.hostErr(err)
	}
	return starlark.MakeUint64(v), nil
}

// hLookupDID is lookup_did(did): a dict {controller, domain, role,
// admitted}, or None if the DID is not registered.
func hLookupDID(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var did string
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &did); err != nil {
		return nil, err
	}
	r := getRun(t)
	if err := r.charge(GasHostCall + uint64(len(did))); err != nil {
		return nil, err
	}
	info, found, err := r.host.LookupDID(did)
	if err != nil {
		return nil, r.hostErr(err)
	}
	if !found {
		return starlark.None, nil
	}
	d := starlark.NewDict(4)
	_ = d.SetKey(starlark.String("controller"), starlark.String(info.Controller))
	_ = d.SetKey(starlark.String("domain"), starlark.String(info.Domain))
	_ = d.SetKey(starlark.String("role"), starlark.String(info.Role))
	_ = d.SetKey(starlark.String("admitted"), starlark.Bool(info.Admitted))
	return d, nil
}

func hRecordExists(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var stream, sender string
	var height starlark.Int
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 3, &stream, &sender, &height); err != nil {
		return nil, err
	}
	h, ok := height.Uint64()
	if !ok {
		return nil, fmt.Errorf("%s: height %s out of range", b.Name(), shortRepr(height))
	}
	r := getRun(t)
	if err := r.charge(GasHostCall + uint64(len(stream)+len(sender))); err != nil {
		return nil, err
	}
	found, err := r.host.RecordExists(stream, sender, h)
	if err != nil {
		return nil, r.hostErr(err)
	}
	return starlark.Bool(found), nil
}

// hEmit is emit(topic, data=None): data is any value that encodes as CBOR.
func hEmit(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var topic string
	var data starlark.Value = starlark.None
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &topic, &data); err != nil {
		return nil, err
	}
	r := getRun(t)
	if len(topic) == 0 || len(topic) > MaxTopicLen {
		return nil, limitErr("emit: topic of %d bytes, want 1 to %d", len(topic), MaxTopicLen)
	}
	if len(r.events) >= MaxEvents {
		return nil, limitErr("emit: more than %d events", MaxEvents)
	}
	if err := r.chargeUnits(shallow(data)); err != nil {
		return nil, err
	}
	enc, err := encodeCBOR(data, MaxEventData)
	if err != nil {
		return nil, limitErr("emit: data: %v", err)
	}
	if err := r.charge(GasEmit + GasEmitByte*uint64(len(topic)+len(enc))); err != nil {
		return nil, err
	}
	if err := r.host.Emit(topic, enc); err != nil {
		return nil, r.hostErr(err)
	}
	r.events = append(r.events, Event{Topic: topic, Data: enc})
	return starlark.None, nil
}

// --- running a call ---

func execute(p *Program, h Host, method string, args []byte, gasLimit uint64, isInit bool) (res Result, err error) {
	if p == nil || h == nil {
		return Result{}, errors.New("contracts: nil program or host")
	}
	thread := &starlark.Thread{Name: "contract", Print: func(*starlark.Thread, string) {}}
	r := &run{host: h, thread: thread, limit: gasLimit}
	thread.SetLocal(runKey, r)
	thread.OnMaxSteps = func(t *starlark.Thread) {
		r.outOfGas = true
		t.Cancel("out of gas")
	}
	defer func() {
		if v := recover(); v != nil {
			res, err = Result{}, fmt.Errorf("%w: panic: %v", ErrInternal, v)
		}
	}()
	if err := r.charge(satAdd(GasIntrinsic, satMul(uint64(len(args)), GasPerInputByte))); err != nil {
		return r.failed(err)
	}
	if len(args) > MaxArgsSize {
		return r.failed(fmt.Errorf("%w: %d bytes of arguments, at most %d", ErrBadArgs, len(args), MaxArgsSize))
	}
	var argv starlark.Tuple
	if len(args) > 0 {
		v, err := decodeCBOR(args)
		if err != nil {
			return r.failed(fmt.Errorf("%w: %v", ErrBadArgs, err))
		}
		l, ok := v.(*starlark.List)
		if !ok {
			return r.failed(fmt.Errorf("%w: arguments must be a CBOR array", ErrBadArgs))
		}
		for i := 0; i < l.Len(); i++ {
			argv = append(argv, l.Index(i))
		}
	}
	if !isInit && !p.exports[method] {
		return r.failed(fmt.Errorf("%w: %q is not in EXPORTS", ErrNoMethod, method))
	}
	globals, err := p.prog.Init(thread, predeclared)
	if err != nil {
		return r.failed(err)
	}
	fn := globals[method]
	if isInit && fn == nil {
		if len(argv) > 0 {
			return r.failed(fmt.Errorf("%w: init arguments given but the contract defines no init", ErrBadArgs))
		}
		fn = starlark.NewBuiltin("init", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
			return starlark.None, nil
		})
	}
	if err := checkArity(method, fn, len(argv)); err != nil {
		return r.failed(err)
	}
	v, err := starlark.Call(thread, fn, argv, nil)
	if err != nil {
		return r.failed(err)
	}
	if err := r.chargeUnits(shallow(v)); err != nil {
		return r.failed(err)
	}
	ret, err := encodeCBOR(v, MaxReturnSize)
	if err != nil {
		return r.failed(fmt.Errorf("%w: %v", ErrBadReturn, err))
	}
	if err := r.charge(satMul(uint64(len(ret)), GasPerReturnByte)); err != nil {
		return r.failed(err)
	}
	return Result{GasUsed: r.used(), Return: ret, Events: r.events}, nil
}

// checkArity reports a wrong number of arguments as ErrBadArgs, before
// the method runs.
func checkArity(method string, fn starlark.Value, n int) error {
	f, ok := fn.(*starlark.Function)
	if !ok {
		return nil
	}
	np := f.NumParams()
	if f.HasKwargs() {
		np--
	}
	if f.HasVarargs() {
		np--
	}
	positional := np - f.NumKwonlyParams()
	required := 0
	for i := 0; i < np; i++ {
		if f.ParamDefault(i) == nil {
			required++
		}
	}
	if (n > positional && !f.HasVarargs()) || n < required {
		return fmt.Errorf("%w: %s takes %d to %d arguments, got %d", ErrBadArgs, method, required, positional, n)
	}
	return nil
}

var sentinels = []error{ErrFail, ErrLimit, ErrHostRule, ErrStorageArg, ErrBadArgs, ErrNoMethod, ErrBadReturn}

// failed turns an error into a metered failure (or returns it, if the Host
// failed for a reason of its own).
func (r *run) failed(err error) (Result, error) {
	if r.fatal != nil {
		return Result{}, r.fatal
	}
	if r.outOfGas || errors.Is(err, ErrOutOfGas) {
		return Result{GasUsed: r.limit, Err: fmt.Errorf("%w: limit %d", ErrOutOfGas, r.limit)}, nil
	}
	sentinel := ErrRuntime
	for _, s := range sentinels {
		if errors.Is(err, s) {
			sentinel = s
			break
		}
	}
	used := r.used()
	if used > r.limit {
		used = r.limit
	}
	msg := strings.TrimPrefix(describe(err), sentinel.Error()+": ")
	return Result{GasUsed: used, Err: fmt.Errorf("%w: %s", sentinel, msg)}, nil
}

// describe is an error's message and the innermost contract position.
func describe(err error) string {
	var ee *starlark.EvalError
	if !errors.As(err, &ee) {
		return err.Error()
	}
	msg := ee.Msg
	if f, ok := errors.AsType[*failError](err); ok {
		msg = f.msg
	}
	for i := len(ee.CallStack) - 1; i >= 0; i-- {
		if fr := ee.CallStack[i]; fr.Pos.IsValid() && fr.Pos.Filename() == "contract.star" {
			return fmt.Sprintf("%s (%s in %s)", msg, fr.Pos, fr.Name)
		}
	}
	return msg
}
