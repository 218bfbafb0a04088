// Command detcheck runs the contracts determinism script
// (contractstest.Script) and prints its outcome as JSON. The determinism
// test builds it for GOARCH=amd64 and GOARCH=386 and compares the outputs
// byte for byte.
//
// Imports: the standard library, sixdomain/contracts/contractstest.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/sixdomain/sixdomain/contracts/contractstest"
)

func main() {
	steps, err := contractstest.Script()
	if err != nil {
		fmt.Fprintln(os.Stderr, "detcheck:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(steps); err != nil {
		fmt.Fprintln(os.Stderr, "detcheck:", err)
		os.Exit(1)
	}
}
