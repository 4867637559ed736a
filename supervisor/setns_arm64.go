package main

// Syscalls this architecture numbers as below (the syscall package names none of them).
const (
	sysSetns           = 268
	sysPidfdSendSignal = 424
	sysPidfdOpen       = 434
)
