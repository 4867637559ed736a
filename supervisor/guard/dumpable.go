package guard

import "syscall"

const prSetDumpable = 4 // PR_SET_DUMPABLE

// NotDumpable marks the process non-dumpable: a process of the same uid
// without CAP_SYS_PTRACE can then neither ptrace it nor open its
// /proc/<pid>/mem or environ, nor read it with process_vm_readv. The binary
// is installed execute-only, so the kernel already did this at execve; this
// is the second lock, for an install that lost its mode. Children do not
// inherit it past their own execve.
func NotDumpable() error {
	_, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetDumpable, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
