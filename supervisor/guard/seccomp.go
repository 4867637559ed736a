package guard

import (
	"runtime"
	"syscall"
	"unsafe"
)

// Linux's own protection of a PID namespace's init spares PID 1 a SIGKILL
// or SIGSTOP sent from inside, however it is sent. gVisor's kernel spares it
// those sent with kill(2), but not with rt_sigqueueinfo(2) and its kin: a
// process of the sandbox could end or stop the supervisor. SparePid1 adds
// that protection with a seccomp filter that every process the supervisor
// starts inherits (seccomp filters pass through fork and execve): those
// calls aimed at PID 1 with SIGKILL or SIGSTOP fail with EPERM, and so does
// tkill(2) with either, whatever thread it names: each thread of PID 1 has a
// number of its own, and tkill is long obsolete (pthread_kill uses tgkill).
func SparePid1() error {
	filter := pid1Filter()
	prog := struct {
		len    uint16
		filter *sockFilter
	}{uint16(len(filter)), &filter[0]}
	// Every thread, so that a child forked from any of them inherits it.
	_, _, errno := syscall.RawSyscall(sysSeccomp, seccompSetModeFilter, seccompFilterFlagTsync, uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(filter)
	if errno != 0 {
		return errno
	}
	return nil
}

type sockFilter struct {
	code uint16
	jt   uint8
	jf   uint8
	k    uint32
}

const (
	seccompSetModeFilter   = 1
	seccompFilterFlagTsync = 1
	seccompRetAllow        = 0x7fff0000
	seccompRetErrno        = 0x00050000

	bpfLdWAbs = 0x20 // BPF_LD | BPF_W | BPF_ABS
	bpfJeqK   = 0x15 // BPF_JMP | BPF_JEQ | BPF_K
	bpfRetK   = 0x06 // BPF_RET | BPF_K

	// Offsets in struct seccomp_data.
	offNr   = 0
	offArch = 4
	offArgs = 16 // args[i] at 16 + 8*i, low half first on little-endian machines
)

// target says where a call names its target process and its signal.
type target struct {
	nr uint32
	// pidArg -1: any target (tkill names a thread, and every thread of PID 1
	// is PID 1); sigArg -1: any signal (pidfd_open, refused for PID 1 outright).
	pidArg, sigArg int
}

func pid1Filter() []sockFilter {
	arch, calls := targetCalls()
	allow := sockFilter{code: bpfRetK, k: seccompRetAllow}
	deny := sockFilter{code: bpfRetK, k: seccompRetErrno | uint32(syscall.EPERM)}
	prog := []sockFilter{
		{code: bpfLdWAbs, k: offArch},
		{code: bpfJeqK, jt: 1, k: arch}, // a call of another ABI is let through: none other is served
		allow,
	}
	for _, call := range calls {
		// Is it this call, aimed at PID 1 (or at any thread, for tkill), with SIGKILL or SIGSTOP?
		block := []sockFilter{
			{code: bpfLdWAbs, k: offNr},
			{code: bpfJeqK, k: call.nr}, // jf: on to the next call's block
		}
		var toAllow []int // the jumps whose jf goes to this block's allow
		if call.pidArg >= 0 {
			block = append(block,
				sockFilter{code: bpfLdWAbs, k: uint32(offArgs + 8*call.pidArg)},
				sockFilter{code: bpfJeqK, k: 1},
			)
			toAllow = append(toAllow, len(block)-1)
		}
		if call.sigArg >= 0 {
			block = append(block,
				sockFilter{code: bpfLdWAbs, k: uint32(offArgs + 8*call.sigArg)},
				sockFilter{code: bpfJeqK, jt: 1, k: uint32(syscall.SIGKILL)}, // to deny
				sockFilter{code: bpfJeqK, k: uint32(syscall.SIGSTOP)},
			)
			toAllow = append(toAllow, len(block)-1)
		}
		block = append(block, deny, allow)
		n := len(block)
		block[1].jf = uint8(n - 2)
		for _, at := range toAllow {
			block[at].jf = uint8(n - 1 - (at + 1))
		}
		prog = append(prog, block...)
	}
	return append(prog, allow)
}
