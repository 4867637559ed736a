// Package guard keeps the supervisor's own process out of reach of the
// sandbox it runs: every signal the sandbox's user can send it is handled
// without harm, no process of the same uid can trace it or read its memory,
// and it keeps the threads it needs even when the sandbox has used up its
// pids limit.
package guard

import (
	"os"
	"os/signal"
	"syscall"
	"unsafe"
)

// faultSignals are the ones Go's runtime treats as a fault of its own code
// and crashes on (ILL, TRAP, BUS, FPE, SEGV, STKFLT, SYS). It tells a fault
// from a sender only by si_code SI_USER or SI_TKILL, so the same signals
// sent with sigqueue(3) (SI_QUEUE, or any other negative code a process
// may choose) crash it even when they are notified. The kernel ignores
// them instead: a signal at SIG_IGN is dropped whoever sends it. A real
// fault still ends the process (the kernel forces it), as a crash would.
var faultSignals = []syscall.Signal{
	syscall.SIGILL, syscall.SIGTRAP, syscall.SIGBUS, syscall.SIGFPE,
	syscall.SIGSEGV, syscall.SIGSTKFLT, syscall.SIGSYS,
}

// Signals makes every signal harmless unless the caller notifies it for
// itself (after this, with signal.Notify, which relays it to both): the
// rest are received and dropped, and the fault signals are ignored by the
// kernel. Children still start with every signal at its default: Go resets
// the ones its runtime handles in each child before exec.
func Signals(sparesInit bool) {
	dropped := make(chan os.Signal, 64)
	signal.Notify(dropped) // every signal, so none reaches the runtime's default of dying
	go func() {
		for range dropped {
		}
	}()
	for _, sig := range faultSignals {
		ignore(sig)
	}
	if !sparesInit {
		for _, sig := range runtimeDefaultSignals {
			ignore(sig)
		}
	}
}

// runtimeDefaultSignals are the ones Go leaves at SIG_DFL (see Signals).
var runtimeDefaultSignals = []syscall.Signal{32, 34}

// kernelSigaction is struct sigaction as rt_sigaction(2) takes it on Linux
// (amd64 and arm64 alike).
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

const sigIgn = 1

// ignore sets sig to SIG_IGN in the kernel, behind the runtime's back: the
// runtime still believes it handles sig, so it resets sig to SIG_DFL in
// every child it forks, and os/signal never installs a handler over it
// (none of these can be notified to a channel before a fault).
func ignore(sig syscall.Signal) {
	act := kernelSigaction{handler: sigIgn}
	syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
}
