// Package fsutil holds small file helpers the golden writers share.
package fsutil

import "os"

// WriteAtomic writes content to p through a temporary file and a rename,
// so a reader never sees half a file.
func WriteAtomic(p, content string) error {
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}
