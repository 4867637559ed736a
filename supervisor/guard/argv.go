package guard

import (
	"os"
	"strings"
	"unsafe"
)

// TakeArg returns a copy of arg and, when arg is one of os.Args, overwrites
// the original with 'x's. Go's os.Args share their bytes with the process's
// argument area, which /proc/<pid>/cmdline reads live and any process in the
// sandbox may read: a secret given on the command line is gone from there
// once taken. Call it before the sandbox runs anything of its own.
func TakeArg(arg string) string {
	taken := strings.Clone(arg)
	for _, original := range os.Args {
		// Only the argument area itself is written: any other string may live in read-only memory.
		if len(arg) > 0 && len(original) == len(arg) && unsafe.StringData(original) == unsafe.StringData(arg) {
			area := unsafe.Slice(unsafe.StringData(arg), len(arg))
			for i := range area {
				area[i] = 'x'
			}
		}
	}
	return taken
}
