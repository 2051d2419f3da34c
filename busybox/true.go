package busybox

import "github.com/dmsim/dmsim/userland"

func init() {
	builtin("true", "do nothing, successfully", func(*userland.Proc) int { return 0 })
	builtin("false", "do nothing, unsuccessfully", func(*userland.Proc) int { return 1 })
}
