//go:build unix

package block

import "syscall"

// mapSlab is an anonymous private mapping of n bytes, nil on failure.
func mapSlab(n int) []byte {
	s, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil
	}
	return s
}

func unmapSlab(s []byte) { syscall.Munmap(s) }
