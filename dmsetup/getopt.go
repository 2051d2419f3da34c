package dmsetup

import (
	"fmt"
	"io"
	"strings"
)

// Option identifiers: the short option letter, or a code above 127 for
// long-only options (as dmsetup's enum does).
const (
	optGID       = 'G'
	optMode      = 'M'
	optSort      = 'O'
	optSelect    = 'S'
	optUID       = 'U'
	optColumns   = 'c'
	optForce     = 'f'
	optHelp      = 'h'
	optMajor     = 'j'
	optMinor     = 'm'
	optNotable   = 'n'
	optOptions   = 'o'
	optReadOnly  = 'r'
	optUUID      = 'u'
	optVerbose   = 'v'
	optYes       = 'y'
	optBigColumn = 'C'

	optAddNodeOnCreate = 128 + iota
	optAddNodeOnResume
	optAlias
	optAllDevices
	optAllPrograms
	optAllRegions
	optArea
	optAreas
	optAreaSize
	optBounds
	optChecks
	optClear
	optConcise
	optCount
	optDeferred
	optExec
	optFilemap
	optFollow
	optForeground
	optGroup
	optGroupID
	optHistogram
	optInactive
	optInterval
	optLength
	optMangleName
	optNamePrefixes
	optNoFlush
	optNoGroup
	optNoHeadings
	optNoLockfs
	optNoMonitor
	optNoOpenCount
	optNoSuffix
	optNoTimeSuffix
	optNoUdevRules
	optNoUdevSync
	optPrecise
	optProgramID
	optRaw
	optReadAhead
	optRegion
	optRegionID
	optRegions
	optRelative
	optRetry
	optRows
	optSegments
	optSeparator
	optSetUUID
	optShowKeys
	optStart
	optTable
	optTarget
	optTree
	optUdevCookie
	optUnbuffered
	optUnits
	optUnquoted
	optUserData
	optVerifyUdev
	optVersion
)

type argKind int

const (
	noArgument argKind = iota
	requiredArgument
)

type longOption struct {
	name string
	kind argKind
	id   int
}

// longOptions is dmsetup 1.02.185's long option table, in its order (glibc
// lists ambiguous candidates in table order).
var longOptions = []longOption{
	{"readonly", noArgument, optReadOnly},
	{"alias", requiredArgument, optAlias},
	{"alldevices", noArgument, optAllDevices},
	{"allprograms", noArgument, optAllPrograms},
	{"allregions", noArgument, optAllRegions},
	{"area", noArgument, optArea},
	{"areas", requiredArgument, optAreas},
	{"areasize", requiredArgument, optAreaSize},
	{"bounds", requiredArgument, optBounds},
	{"checks", noArgument, optChecks},
	{"clear", noArgument, optClear},
	{"columns", noArgument, optColumns},
	{"concise", noArgument, optConcise},
	{"count", requiredArgument, optCount},
	{"deferred", noArgument, optDeferred},
	{"exec", requiredArgument, optExec},
	{"filemap", noArgument, optFilemap},
	{"follow", requiredArgument, optFollow},
	{"force", noArgument, optForce},
	{"foreground", noArgument, optForeground},
	{"gid", requiredArgument, optGID},
	{"group", noArgument, optGroup},
	{"groupid", requiredArgument, optGroupID},
	{"help", noArgument, optHelp},
	{"histogram", noArgument, optHistogram},
	{"inactive", noArgument, optInactive},
	{"interval", requiredArgument, optInterval},
	{"length", requiredArgument, optLength},
	{"manglename", requiredArgument, optMangleName},
	{"major", requiredArgument, optMajor},
	{"minor", requiredArgument, optMinor},
	{"mode", requiredArgument, optMode},
	{"nameprefixes", noArgument, optNamePrefixes},
	{"nogroup", noArgument, optNoGroup},
	{"noflush", noArgument, optNoFlush},
	{"noheadings", noArgument, optNoHeadings},
	{"nolockfs", noArgument, optNoLockfs},
	{"noopencount", noArgument, optNoOpenCount},
	{"nosuffix", noArgument, optNoSuffix},
	{"notable", noArgument, optNotable},
	{"notimesuffix", noArgument, optNoTimeSuffix},
	{"options", requiredArgument, optOptions},
	{"precise", noArgument, optPrecise},
	{"programid", requiredArgument, optProgramID},
	{"raw", noArgument, optRaw},
	{"readahead", requiredArgument, optReadAhead},
	{"region", noArgument, optRegion},
	{"regions", requiredArgument, optRegions},
	{"regionid", requiredArgument, optRegionID},
	{"relative", noArgument, optRelative},
	{"retry", noArgument, optRetry},
	{"rows", noArgument, optRows},
	{"select", requiredArgument, optSelect},
	{"segments", noArgument, optSegments},
	{"separator", requiredArgument, optSeparator},
	{"setuuid", noArgument, optSetUUID},
	{"showkeys", noArgument, optShowKeys},
	{"sort", requiredArgument, optSort},
	{"start", requiredArgument, optStart},
	{"table", requiredArgument, optTable},
	{"target", requiredArgument, optTarget},
	{"tree", noArgument, optTree},
	{"udevcookie", requiredArgument, optUdevCookie},
	{"uid", requiredArgument, optUID},
	{"units", requiredArgument, optUnits},
	{"uuid", requiredArgument, optUUID},
	{"unbuffered", noArgument, optUnbuffered},
	{"unquoted", noArgument, optUnquoted},
	{"userdata", requiredArgument, optUserData},
	{"verbose", requiredArgument, optVerbose},
	{"verifyudev", noArgument, optVerifyUdev},
	{"version", noArgument, optVersion},
	{"yes", noArgument, optYes},
	{"nomonitor", noArgument, optNoMonitor},
	{"noudevrules", noArgument, optNoUdevRules},
	{"noudevsync", noArgument, optNoUdevSync},
	{"addnodeonresume", noArgument, optAddNodeOnResume},
	{"addnodeoncreate", noArgument, optAddNodeOnCreate},
}

// shortOptions is dmsetup's optstring.
const shortOptions = "cCfG:hj:m:M:no:O:rS:u:U:vy"

// parsedOption is one option getopt returned, in command-line order.
type parsedOption struct {
	id  int
	arg string
}

// getoptLong parses args (argv without argv[0]) as glibc's getopt_long does
// with argument permutation: it returns the options in order and the
// operands, or prints glibc's message and returns ok=false at the first
// bad option.
func getoptLong(prog string, args []string, short string, long []longOption, stderr io.Writer) (opts []parsedOption, operands []string, ok bool) {
	shortKind := map[byte]argKind{}
	for i := 0; i < len(short); i++ {
		k := noArgument
		if i+1 < len(short) && short[i+1] == ':' {
			k = requiredArgument
		}
		if short[i] != ':' {
			shortKind[short[i]] = k
		}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			operands = append(operands, args[i+1:]...)
			return opts, operands, true
		case strings.HasPrefix(a, "--"):
			body := a[2:]
			name, val, hasVal := strings.Cut(body, "=")
			var found *longOption
			exact := false
			var ambig []int
			for j := range long {
				if !strings.HasPrefix(long[j].name, name) {
					continue
				}
				if long[j].name == name {
					found, exact = &long[j], true
					break
				}
				if found == nil {
					found = &long[j]
					ambig = append(ambig, j)
				} else if found.kind != long[j].kind || found.id != long[j].id {
					ambig = append(ambig, j)
				}
			}
			if !exact && len(ambig) > 1 {
				fmt.Fprintf(stderr, "%s: option '--%s' is ambiguous; possibilities:", prog, body)
				for _, j := range ambig {
					fmt.Fprintf(stderr, " '--%s'", long[j].name)
				}
				fmt.Fprintln(stderr)
				return nil, nil, false
			}
			if found == nil {
				fmt.Fprintf(stderr, "%s: unrecognized option '--%s'\n", prog, body)
				return nil, nil, false
			}
			switch found.kind {
			case noArgument:
				if hasVal {
					fmt.Fprintf(stderr, "%s: option '--%s' doesn't allow an argument\n", prog, found.name)
					return nil, nil, false
				}
				opts = append(opts, parsedOption{id: found.id})
			case requiredArgument:
				if !hasVal {
					if i+1 >= len(args) {
						fmt.Fprintf(stderr, "%s: option '--%s' requires an argument\n", prog, found.name)
						return nil, nil, false
					}
					i++
					val = args[i]
				}
				opts = append(opts, parsedOption{id: found.id, arg: val})
			}
		case len(a) > 1 && a[0] == '-':
			for k := 1; k < len(a); k++ {
				c := a[k]
				kind, known := shortKind[c]
				if !known {
					fmt.Fprintf(stderr, "%s: invalid option -- '%c'\n", prog, c)
					return nil, nil, false
				}
				if kind == noArgument {
					opts = append(opts, parsedOption{id: int(c)})
					continue
				}
				if k+1 < len(a) {
					opts = append(opts, parsedOption{id: int(c), arg: a[k+1:]})
				} else if i+1 < len(args) {
					i++
					opts = append(opts, parsedOption{id: int(c), arg: args[i]})
				} else {
					fmt.Fprintf(stderr, "%s: option requires an argument -- '%c'\n", prog, c)
					return nil, nil, false
				}
				break
			}
		default:
			operands = append(operands, a)
		}
	}
	return opts, operands, true
}
