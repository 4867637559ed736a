package guard

// sysSeccomp is seccomp(2).
const sysSeccomp = 317

// targetCalls are the calls that send a signal to a process or thread
// named by number, on amd64 (AUDIT_ARCH_X86_64).
func targetCalls() (uint32, []target) {
	return 0xc000003e, []target{
		{nr: 62, pidArg: 0, sigArg: 1},   // kill
		{nr: 200, pidArg: -1, sigArg: 1}, // tkill
		{nr: 234, pidArg: 0, sigArg: 2},  // tgkill
		{nr: 129, pidArg: 0, sigArg: 1},  // rt_sigqueueinfo
		{nr: 297, pidArg: 0, sigArg: 2},  // rt_tgsigqueueinfo
		{nr: 434, pidArg: 0, sigArg: -1}, // pidfd_open
	}
}

// More calls an exec's filter watches, on amd64: prlimit64, fcntl and pidfd_send_signal.
const (
	nrPrlimit64       = 302
	nrFcntl           = 72
	nrPidfdSendSignal = 424
	nrSetsid          = 112
	// x32 calls share the native audit arch, with this bit in the number.
	x32Bit = 0x40000000
)
