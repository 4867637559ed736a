// Command btrfs-squota turns on btrfs simple quotas for the file system that
// holds a path. Debian 12's btrfs-progs cannot ask for them, the kernel
// (6.7 and newer) can: one ioctl. Simple quotas count only the extents a
// subvolume writes itself, so a container's bound does not count its image's
// shared bytes, and they stay consistent as subvolumes come and go (full
// qgroups were marked inconsistent after containers were removed, and then
// stopped enforcing limits until a rescan).
package main

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// From linux/btrfs.h: _IOWR(0x94, 40, struct btrfs_ioctl_quota_ctl_args).
const (
	iocQuotaCtl          = 0xC0109428
	quotaCtlEnableSimple = 4
)

type quotaCtlArgs struct {
	cmd    uint64
	status uint64
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: btrfs-squota PATH")
		os.Exit(2)
	}
	dir, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	args := quotaCtlArgs{cmd: quotaCtlEnableSimple}
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, dir.Fd(), iocQuotaCtl, uintptr(unsafe.Pointer(&args))); errno != 0 {
		fmt.Fprintf(os.Stderr, "cannot turn on simple quotas on %s: %v\n", os.Args[1], errno)
		os.Exit(1)
	}
}
