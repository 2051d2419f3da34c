package dmsim

import (
	"strconv"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/table"
)

// The module-parameter setters of kernel/params.c. Each parses a value
// written to /sys/module/M/parameters/P (or given to modprobe) and returns
// it as the parameter's get function shows it back.

// ParamSetInt is param_set_int(): kstrtoint(value, 0), shown back as "%d".
func ParamSetInt(s string) (string, error) {
	v, err := table.Kstrtoint(s, 0)
	if err != nil {
		return "", err
	}
	return strconv.Itoa(int(v)), nil
}

// ParamSetUint is param_set_uint(): kstrtouint(value, 0), shown back as
// "%u".
func ParamSetUint(s string) (string, error) {
	v, err := table.Kstrtouint(s, 0)
	if err != nil {
		return "", err
	}
	return strconv.FormatUint(uint64(v), 10), nil
}

// ParamSetUlong is param_set_ulong(): kstrtoul(value, 0), shown back as
// "%lu".
func ParamSetUlong(s string) (string, error) {
	v, err := table.Kstrtoull(s, 0)
	if err != nil {
		return "", err
	}
	return strconv.FormatUint(v, 10), nil
}

// ParamSetBool is param_set_bool(): kstrtobool(), shown back as "Y" or
// "N".
func ParamSetBool(s string) (string, error) {
	switch s {
	case "y", "Y", "1", "on", "ON", "On":
		return "Y", nil
	case "n", "N", "0", "off", "OFF", "Off":
		return "N", nil
	}
	if len(s) > 0 {
		switch s[0] {
		case 'y', 'Y', '1':
			return "Y", nil
		case 'n', 'N', '0':
			return "N", nil
		}
	}
	return "", linuxerr.EINVAL
}
