package contracts

import (
	"bytes"
	"fmt"
	"math/big"
	"reflect"
	"sort"

	"github.com/fxamacker/cbor/v2"
	"go.starlark.net/starlark"
)

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	if encMode, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err) // constant options
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  MaxCBORDepth,
		MaxArrayElements: 4096,
		MaxMapPairs:      4096,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		UTF8:             cbor.UTF8RejectInvalid,
		DefaultMapType:   reflect.TypeOf(map[string]any(nil)),
		BigIntDec:        cbor.BigIntDecodePointer,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// decodeCBOR decodes one canonical CBOR value into a Starlark value: ints,
// text strings, byte strings, booleans, null, arrays (lists) and maps with
// text keys (dicts). Floats, tags and non-canonical input are refused.
func decodeCBOR(data []byte) (starlark.Value, error) {
	var v any
	if err := decMode.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	again, err := encMode.Marshal(v)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, data) {
		return nil, fmt.Errorf("not canonical CBOR")
	}
	return fromGo(v)
}

func fromGo(v any) (starlark.Value, error) {
	switch v := v.(type) {
	case nil:
		return starlark.None, nil
	case bool:
		return starlark.Bool(v), nil
	case uint64:
		return starlark.MakeUint64(v), nil
	case int64:
		return starlark.MakeInt64(v), nil
	case *big.Int:
		if v.BitLen() > MaxIntBits {
			return nil, fmt.Errorf("int wider than %d bits", MaxIntBits)
		}
		return starlark.MakeBigInt(v), nil
	case string:
		return starlark.String(v), nil
	case []byte:
		return starlark.Bytes(v), nil
	case []any:
		elems := make([]starlark.Value, len(v))
		for i, e := range v {
			x, err := fromGo(e)
			if err != nil {
				return nil, err
			}
			elems[i] = x
		}
		return starlark.NewList(elems), nil
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys) // insertion order must not depend on Go's map order
		d := starlark.NewDict(len(v))
		for _, k := range keys {
			x, err := fromGo(v[k])
			if err != nil {
				return nil, err
			}
			if err := d.SetKey(starlark.String(k), x); err != nil {
				return nil, err
			}
		}
		return d, nil
	}
	return nil, fmt.Errorf("unsupported CBOR item %T", v)
}

// encodeCBOR encodes a Starlark value as canonical CBOR: int (up to 64
// bits), string, bytes, bool, None, list or tuple, dict with string keys.
// It refuses anything else, nesting deeper than MaxCBORDepth and output
// larger than max.
func encodeCBOR(v starlark.Value, max int) ([]byte, error) {
	n := 0
	g, err := toGo(v, 0, &n, max)
	if err != nil {
		return nil, err
	}
	b, err := encMode.Marshal(g)
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, fmt.Errorf("encoding of %d bytes, at most %d", len(b), max)
	}
	return b, nil
}

// toGo converts v, counting an estimate of the encoded size in *n so that a
// value far larger than max is refused before it is copied.
func toGo(v starlark.Value, depth int, n *int, max int) (any, error) {
	if depth > MaxCBORDepth {
		return nil, fmt.Errorf("nested deeper than %d", MaxCBORDepth)
	}
	*n++
	if *n > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	switch v := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.Bool:
		return bool(v), nil
	case starlark.Int:
		if i, ok := v.Int64(); ok {
			return i, nil
		}
		if u, ok := v.Uint64(); ok {
			return u, nil
		}
		return nil, fmt.Errorf("int %s does not fit in 64 bits", shortRepr(v))
	case starlark.String:
		*n += len(v)
		if *n > max {
			return nil, fmt.Errorf("larger than %d bytes", max)
		}
		return string(v), nil
	case starlark.Bytes:
		*n += len(v)
		if *n > max {
			return nil, fmt.Errorf("larger than %d bytes", max)
		}
		return []byte(v), nil
	case *starlark.List:
		out := make([]any, 0, min(v.Len(), max))
		for i := 0; i < v.Len(); i++ {
			x, err := toGo(v.Index(i), depth+1, n, max)
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		}
		return out, nil
	case starlark.Tuple:
		out := make([]any, 0, min(len(v), max))
		for _, e := range v {
			x, err := toGo(e, depth+1, n, max)
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		}
		return out, nil
	case *starlark.Dict:
		if v.Len() > max {
			return nil, fmt.Errorf("larger than %d bytes", max)
		}
		out := make(map[string]any, v.Len())
		for _, kv := range v.Items() {
			k, ok := kv[0].(starlark.String)
			if !ok {
				return nil, fmt.Errorf("dict key of type %s (only string keys encode)", kv[0].Type())
			}
			*n += len(k)
			x, err := toGo(kv[1], depth+1, n, max)
			if err != nil {
				return nil, err
			}
			out[string(k)] = x
		}
		return out, nil
	}
	return nil, fmt.Errorf("value of type %s does not encode", v.Type())
}

// EncodeArgs is a helper for callers and tests: it encodes Go values (nil,
// bool, ints, string, []byte, []any, map[string]any) as the canonical CBOR
// array that Init and Call take.
func EncodeArgs(args ...any) ([]byte, error) {
	if args == nil {
		args = []any{}
	}
	return encMode.Marshal(args)
}

// DecodeValue decodes a canonical CBOR value (a Result.Return or event
// data) into plain Go values: nil, bool, uint64, int64, string, []byte,
// []any, map[string]any.
func DecodeValue(data []byte) (any, error) {
	var v any
	if err := decMode.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	return v, nil
}
