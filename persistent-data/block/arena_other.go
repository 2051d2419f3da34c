//go:build !unix

package block

// mapSlab has no mapping to make here: the heap serves.
func mapSlab(int) []byte { return nil }

func unmapSlab([]byte) {}
