package script

import (
	"strconv"

	"mvdan.cc/sh/v3/syntax"
)

// Marker commands the runner puts into every line (see procs.go). Their
// names cannot be typed in a script.
const (
	mkSpawnStage = "\x00dmsim-spawn-stage" // before a pipeline: a token for its stage
	mkStageBegin = "\x00dmsim-stage-begin" // a stage's goroutine adopts it
	mkStageEnd   = "\x00dmsim-stage-end"   // closes the stage's pipe, gives the token up
	mkLastBegin  = "\x00dmsim-last-begin"  // the last stage (in the starting goroutine)
	mkLastEnd    = "\x00dmsim-last-end"    // closes its pipe, waits for the stage
	mkSpawnJob   = "\x00dmsim-spawn-job"   // SITE: before `&`: a token for the job
	mkJobBegin   = "\x00dmsim-job-begin"   // SITE: the job's goroutine adopts it
	mkJobEnd     = "\x00dmsim-job-end"     // the job ends
	mkWait       = "\x00dmsim-wait"        // ARGS: before `wait ARGS`
	mkHdoc       = "\x00dmsim-heredoc"     // before a command reading a here-document
	mkHdocEnd    = "\x00dmsim-heredoc-end"
	mkCat        = "\x00dmsim-cat" // $(<FILE)
)

// rewriter rewrites one parsed line for the runner:
//
//	A | B      if SPAWN-STAGE; then P; else P; fi, P being the pipeline
//	           S(STAGE-BEGIN, (A), STAGE-END) | S(LAST-BEGIN, (B), LAST-END)
//	C &        if SPAWN-JOB n; then J & else J & fi, J being S(JOB-BEGIN n, (C), JOB-END)
//	wait ARGS  { WAIT ARGS; wait ARGS; }
//	C <<EOF    S(HEREDOC, C, HEREDOC-END) <<EOF
//	$(<FILE)   $(CAT <FILE)
//
// where S(B, C, E) is `if B; then if C; then E; else E; fi; else if C;
// then E; else E; fi; fi`: the markers return $? as they found it, the
// if conditions keep them and C from triggering `set -e` before E has
// run, and $? is C's status after E. Every stage runs in a subshell, as
// in ash (bash and mvdan.cc/sh run the last one in the shell itself).
type rewriter struct {
	sh      *shell
	visited map[*syntax.Stmt]bool
	keep    map[*syntax.Stmt]bool // made by the rewrite: not rewritten again
}

func (sh *shell) rewrite(f *syntax.File) {
	rw := &rewriter{sh: sh, visited: map[*syntax.Stmt]bool{}, keep: map[*syntax.Stmt]bool{}}
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.Stmt:
			if rw.visited[n] {
				return false // shared by both branches of an S(...)
			}
			rw.visited[n] = true
			if !rw.keep[n] {
				rw.stmt(n)
			}
		case *syntax.CmdSubst:
			if len(n.Stmts) == 1 {
				st := n.Stmts[0]
				if st.Cmd == nil && !st.Negated && !st.Background && !st.Coprocess && !st.Disown &&
					len(st.Redirs) == 1 && st.Redirs[0].Op == syntax.RdrIn {
					st.Cmd = &syntax.CallExpr{Args: []*syntax.Word{litWord(mkCat)}}
				}
			}
		}
		return true
	})
}

func litWord(s string) *syntax.Word {
	return &syntax.Word{Parts: []syntax.WordPart{&syntax.Lit{Value: s}}}
}

func (rw *rewriter) call(name string, args ...*syntax.Word) *syntax.Stmt {
	st := &syntax.Stmt{Cmd: &syntax.CallExpr{Args: append([]*syntax.Word{litWord(name)}, args...)}}
	rw.keep[st] = true
	return st
}

func (rw *rewriter) made(st *syntax.Stmt) *syntax.Stmt {
	rw.keep[st] = true
	return st
}

// ifElse is `if cond; then a; else b; fi`.
func ifElse(cond, a, b *syntax.Stmt) *syntax.IfClause {
	return &syntax.IfClause{Cond: []*syntax.Stmt{cond}, Then: []*syntax.Stmt{a},
		Else: &syntax.IfClause{Then: []*syntax.Stmt{b}}}
}

// guarded is S(begin, body, end).
func (rw *rewriter) guarded(begin, body, end *syntax.Stmt) *syntax.IfClause {
	inner := func() *syntax.Stmt {
		return rw.made(&syntax.Stmt{Cmd: ifElse(body, end, end)})
	}
	return ifElse(begin, inner(), inner())
}

func (rw *rewriter) subshell(st *syntax.Stmt) *syntax.Stmt {
	return rw.made(&syntax.Stmt{Cmd: &syntax.Subshell{Stmts: []*syntax.Stmt{st}}, Position: st.Position})
}

func hasHeredoc(st *syntax.Stmt) bool {
	for _, r := range st.Redirs {
		switch r.Op {
		case syntax.Hdoc, syntax.DashHdoc, syntax.WordHdoc:
			if r.N == nil || r.N.Value == "0" {
				return true
			}
		}
	}
	return false
}

// stmt rewrites st in place; the walk goes on into what it became.
func (rw *rewriter) stmt(st *syntax.Stmt) {
	switch {
	case (st.Background || st.Disown) && !st.Coprocess:
		inner := &syntax.Stmt{Cmd: st.Cmd, Negated: st.Negated, Redirs: st.Redirs, Position: st.Position}
		site := litWord(strconv.Itoa(rw.sh.newSite()))
		job := rw.made(&syntax.Stmt{
			Cmd:        rw.guarded(rw.call(mkJobBegin, site), rw.subshell(inner), rw.call(mkJobEnd)),
			Background: st.Background, Disown: st.Disown, Position: st.Position,
		})
		st.Cmd = ifElse(rw.call(mkSpawnJob, site), job, job)
		st.Background, st.Disown, st.Negated, st.Redirs = false, false, false, nil
	case st.Cmd != nil && hasHeredoc(st):
		body := &syntax.Stmt{Cmd: st.Cmd, Position: st.Position}
		st.Cmd = rw.guarded(rw.call(mkHdoc), body, rw.call(mkHdocEnd))
	default:
		switch cmd := st.Cmd.(type) {
		case *syntax.BinaryCmd:
			if cmd.Op != syntax.Pipe && cmd.Op != syntax.PipeAll {
				return
			}
			x := rw.made(&syntax.Stmt{Cmd: rw.guarded(rw.call(mkStageBegin), rw.subshell(cmd.X), rw.call(mkStageEnd))})
			y := rw.made(&syntax.Stmt{Cmd: rw.guarded(rw.call(mkLastBegin), rw.subshell(cmd.Y), rw.call(mkLastEnd))})
			p := rw.made(&syntax.Stmt{Cmd: &syntax.BinaryCmd{Op: cmd.Op, OpPos: cmd.OpPos, X: x, Y: y}, Position: st.Position})
			st.Cmd = ifElse(rw.call(mkSpawnStage), p, p)
		case *syntax.CallExpr:
			if len(cmd.Args) == 0 || cmd.Args[0].Lit() != "wait" {
				return
			}
			w := rw.made(&syntax.Stmt{Cmd: cmd, Position: st.Position})
			st.Cmd = &syntax.Block{Stmts: []*syntax.Stmt{rw.call(mkWait, cmd.Args[1:]...), w}}
		}
	}
}
