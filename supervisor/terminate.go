package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// terminateSignal asks the supervisor to end the sandbox as a kill would:
// every process killed, exit code 137. An engine that cannot signal a
// container's main process itself (Kubernetes) sends it through an exec of
// `sandfleet-supervisor terminate`. No program a sandbox runs expects it.
const terminateSignal = syscall.SIGPWR

// terminatedExitCode is what a killed sandbox reports, as on Docker.
const terminatedExitCode = 137

func runTerminate() int {
	if err := syscall.Kill(1, terminateSignal); err != nil {
		fmt.Fprintf(os.Stderr, "sandfleet-supervisor: cannot signal the supervisor: %v\n", err)
		return 1
	}
	return 0
}

// runInstall copies this binary into dir: an engine without volumes filled
// from images (Kubernetes) runs it in an init container to put the
// supervisor in a volume the sandbox mounts.
func runInstall(dir string) int {
	if err := install(dir); err != nil {
		fmt.Fprintf(os.Stderr, "sandfleet-supervisor: install: %v\n", err)
		return 1
	}
	return 0
}

func install(dir string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	in, err := os.Open(self)
	if err != nil {
		return err
	}
	defer in.Close()
	target := filepath.Join(dir, "sandfleet-supervisor")
	out, err := os.OpenFile(target+".tmp", os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o555)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(target+".tmp", target)
}
