#include "textflag.h"

// func vforkRaw(flags uintptr) (pid, errno uintptr)
//
// clone(flags, 0, 0, 0, 0). The return address is in the link register, not
// on the stack the child shares with the parent until it execs or exits, and
// this function keeps no frame.
TEXT ·vforkRaw(SB),NOSPLIT|NOFRAME,$0-24
	MOVD	flags+0(FP), R0
	MOVD	$0, R1
	MOVD	$0, R2
	MOVD	$0, R3
	MOVD	$0, R4
	MOVD	$220, R8 // clone
	SVC
	CMN	$4095, R0
	BCC	done
	NEG	R0, R0
	MOVD	ZR, pid+8(FP)
	MOVD	R0, errno+16(FP)
	RET
done:
	MOVD	R0, pid+8(FP)
	MOVD	ZR, errno+16(FP)
	RET
