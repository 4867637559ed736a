// Command pulumi-language-nodejs starts the Node.js language host that the bootstrap builds
// (`pulumi-language-nodejs-host`, beside this launcher) with the runtime options of the project
// it is started in.
//
// That host is the one of sdk/v3 v3.68.0, the last release whose host the Go module proxy
// serves. It reads its options only from flags, as the CLIs of its time passed them; the current
// CLI sends them over RPC instead, which it does not read. Without this launcher every program
// ran with ts-node loaded (`typescript` defaults to true) whatever Pulumi.yaml said, which cost
// every `pulumi up` the TypeScript compiler's load and ts-node's stack rewriting.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

const hostName = "pulumi-language-nodejs-host"

func main() {
	self, err := os.Executable()
	if err != nil {
		fail(err)
	}
	host := filepath.Join(filepath.Dir(self), hostName)
	dir, err := os.Getwd()
	if err != nil {
		fail(err)
	}
	args := append([]string{host}, hostFlags(dir)...)
	args = append(args, os.Args[1:]...)
	fail(syscall.Exec(host, args, os.Environ()))
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
	os.Exit(1)
}
