module github.com/dmsim/dmsim

go 1.26.8

require (
	github.com/alecthomas/participle/v2 v2.1.4
	github.com/klauspost/compress v1.20.3
	github.com/peterh/liner v1.2.3
	mvdan.cc/sh/v3 v3.14.1
)

require (
	github.com/clipperhouse/uax29/v2 v2.7.0 // indirect
	github.com/hanwen/go-fuse/v2 v2.12.1 // indirect
	github.com/mattn/go-runewidth v0.0.31 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/term v0.45.0 // indirect
)
