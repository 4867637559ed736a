package guard

// sysSeccomp is seccomp(2).
const sysSeccomp = 277

// targetCalls are the calls that send a signal to a process or thread
// named by number, on arm64 (AUDIT_ARCH_AARCH64).
func targetCalls() (uint32, []target) {
	return 0xc00000b7, []target{
		{nr: 129, pidArg: 0, sigArg: 1},  // kill
		{nr: 130, pidArg: -1, sigArg: 1}, // tkill
		{nr: 131, pidArg: 0, sigArg: 2},  // tgkill
		{nr: 138, pidArg: 0, sigArg: 1},  // rt_sigqueueinfo
		{nr: 240, pidArg: 0, sigArg: 2},  // rt_tgsigqueueinfo
		{nr: 434, pidArg: 0, sigArg: -1}, // pidfd_open
	}
}

// More calls an exec's filter watches, on arm64: prlimit64, fcntl and pidfd_send_signal.
const (
	nrPrlimit64       = 261
	nrFcntl           = 25
	nrPidfdSendSignal = 424
	nrSetsid          = 157
	// arm64 has no second ABI on its audit arch.
	x32Bit = 0
)
