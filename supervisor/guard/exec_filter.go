package guard

import (
	"encoding/binary"
	"syscall"
)

const fSetsig = 10 // F_SETSIG

// maxProtected bounds the pids one filter names: a jump of the filter's reaches 255 instructions.
const maxProtected = 200

// ExecFilter is the seccomp filter (a sock_filter array, as bytes) every
// exec's command runs under, and everything the command starts inherits.
//
// It keeps every process of the exec in the command's session (the command
// leads one of its own), which is how a timeout or a kill finds them all,
// whatever becomes of their process groups, environment or parents: setsid
// succeeds and changes nothing. Nothing else moves a process to another
// session (setpgid moves it between groups of its own session, so job
// control works as it should).
//
// And it keeps the exec's processes from ending or stopping the processes in
// protected (the supervisor), which handle every other signal. These fail
// with EPERM:
//   - kill, tkill, tgkill, rt_sigqueueinfo and rt_tgsigqueueinfo sending
//     SIGKILL or SIGSTOP to one of them;
//   - pidfd_open of one of them, and pidfd_send_signal with either signal
//     (its descriptor may be a /proc/<pid> directory, which a filter cannot see);
//   - prlimit64 on one of them (a CPU limit ends a process with SIGKILL);
//   - fcntl(F_SETSIG) with either signal (a file's owner is signalled on I/O);
//   - every call of another ABI (32-bit, x32), whose numbers differ, so that
//     neither setsid nor any of the above goes round the filter.
func ExecFilter(protected []int) []byte {
	arch, calls := targetCalls()
	pids := make([]uint32, 0, len(protected))
	for _, pid := range protected[:min(len(protected), maxProtected)] {
		pids = append(pids, uint32(pid))
	}
	allow := sockFilter{code: bpfRetK, k: seccompRetAllow}
	deny := sockFilter{code: bpfRetK, k: seccompRetErrno | uint32(syscall.EPERM)}
	prog := []sockFilter{
		{code: bpfLdWAbs, k: offArch},
		{code: bpfJeqK, jt: 1, k: arch},
		deny, // another ABI
		{code: bpfLdWAbs, k: offNr},
	}
	if x32Bit != 0 {
		prog = append(prog, sockFilter{code: bpfJsetK, jt: 1, k: x32Bit}, sockFilter{code: bpfJaK, k: 1}, deny)
	}
	unchanged := sockFilter{code: bpfRetK, k: seccompRetErrno} // errno 0: "done"
	prog = append(prog, sockFilter{code: bpfJeqK, jf: 1, k: nrSetsid}, unchanged)
	type watch struct {
		nr             uint32
		pidArg, sigArg int
		values         []uint32
	}
	var watches []watch
	for _, call := range calls {
		w := watch{nr: call.nr, pidArg: call.pidArg, sigArg: call.sigArg, values: pids}
		if call.pidArg < 0 { // tkill names a thread, whose number is no process's
			continue
		}
		watches = append(watches, w)
	}
	watches = append(watches,
		watch{nr: nrPrlimit64, pidArg: 0, sigArg: -1, values: pids},
		watch{nr: nrFcntl, pidArg: 1, sigArg: 2, values: []uint32{fSetsig}},
		watch{nr: nrPidfdSendSignal, pidArg: -1, sigArg: 1},
	)
	for _, w := range watches {
		// ld nr; jeq nr (else on to the next block); [ld target; jeq each -> signal check; allow]; [ld sig; jeq KILL/STOP -> deny; allow]; deny.
		block := []sockFilter{{code: bpfLdWAbs, k: offNr}, {code: bpfJeqK, k: w.nr}}
		if w.pidArg >= 0 {
			block = append(block, sockFilter{code: bpfLdWAbs, k: uint32(offArgs + 8*w.pidArg)})
			n := len(w.values)
			for i, v := range w.values {
				// jt: past the remaining compares and the allow below them.
				block = append(block, sockFilter{code: bpfJeqK, jt: uint8(n - i), k: v})
			}
			block = append(block, allow)
		}
		if w.sigArg >= 0 {
			block = append(block,
				sockFilter{code: bpfLdWAbs, k: uint32(offArgs + 8*w.sigArg)},
				sockFilter{code: bpfJeqK, jt: 2, k: uint32(syscall.SIGKILL)},
				sockFilter{code: bpfJeqK, jt: 1, k: uint32(syscall.SIGSTOP)},
				allow,
			)
		}
		block = append(block, deny)
		block[1].jf = uint8(len(block) - 2)
		prog = append(prog, block...)
	}
	prog = append(prog, allow)
	out := make([]byte, 8*len(prog))
	for i, f := range prog {
		binary.LittleEndian.PutUint16(out[8*i:], f.code)
		out[8*i+2], out[8*i+3] = f.jt, f.jf
		binary.LittleEndian.PutUint32(out[8*i+4:], f.k)
	}
	return out
}

const (
	bpfJsetK = 0x45 // BPF_JMP | BPF_JSET | BPF_K
	bpfJaK   = 0x05 // BPF_JMP | BPF_JA
)
