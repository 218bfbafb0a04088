package contracts_test

import (
	"testing"

	"github.com/sixdomain/sixdomain/contracts"
)

func TestSmoke(t *testing.T) {
	p, err := contracts.Check(mustRead(t, "examples/counter.star"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHost()
	res, err := contracts.Init(p, h, args(t, 5), 1_000_000)
	t.Logf("init %+v %v", res, err)
	res = call(t, p, h, "inc", args(t, 2), 1_000_000)
	t.Logf("inc %+v", res)
	res = call(t, p, h, "inc", args(t, -2), 1_000_000)
	t.Logf("inc %+v", res)
	res = call(t, p, h, "get", nil, 1_000_000)
	t.Logf("get %+v", res)
}
