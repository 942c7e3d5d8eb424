//go:build unix

package connlimit

import "syscall"

// OpenFileLimit is the process's soft limit on open files. The Go runtime
// has already raised it to the hard limit at start (Go 1.19+, see
// syscall's rlimit.go), so there is nothing left to raise; 0 if unknown.
func OpenFileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return uint64(lim.Cur)
}
