#include "textflag.h"

// func vforkRaw(flags uintptr) (pid, errno uintptr)
//
// clone(flags, 0, 0, 0, 0). With CLONE_VM|CLONE_VFORK the child runs on this
// very stack until it execs or exits, and may write over whatever lies below
// the caller's frame, this function's return address included: the address
// waits in R12 (which the kernel keeps) across the call and goes back on the
// stack after it, in the child and again in the parent.
TEXT ·vforkRaw(SB),NOSPLIT|NOFRAME,$0-24
	MOVQ	flags+0(FP), DI
	XORQ	SI, SI
	XORQ	DX, DX
	XORQ	R10, R10
	XORQ	R8, R8
	MOVQ	$56, AX // clone
	POPQ	R12
	SYSCALL
	PUSHQ	R12
	CMPQ	AX, $0xfffffffffffff001
	JLS	done
	NEGQ	AX
	MOVQ	$0, pid+8(FP)
	MOVQ	AX, errno+16(FP)
	RET
done:
	MOVQ	AX, pid+8(FP)
	MOVQ	$0, errno+16(FP)
	RET
