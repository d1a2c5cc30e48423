// Command jpegrestore restores archives of over-compressed JPEGs. This file only turns flags into
// job configs and runs them; the jobs live in package jobs.
//
//	jpegrestore probe [--json] [--max-pixels N] PATH...   survey JPEG files by their markers
//	jpegrestore doctor [--ort-lib PATH]                    check the native libraries
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"jpegrestore/gpuworker"
	"jpegrestore/jobs"
	"jpegrestore/jpeg"
)

// Exit codes: 0 all inputs fine, 3 the run finished but some inputs failed, 1 the job itself
// failed, 2 bad usage.
const (
	exitOK          = 0
	exitJobFailed   = 1
	exitUsage       = 2
	exitInputFailed = 3
)

const usage = `usage: jpegrestore COMMAND [flags]

commands:
  probe   PATH...   read each JPEG's markers: size, coding, quality factor (no decoding)
  doctor            check that ONNX Runtime and libjpeg-turbo load

Run "jpegrestore COMMAND -h" for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "probe":
		return probe(args[1:], stdout, stderr)
	case "doctor":
		return doctor(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "jpegrestore: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

func probe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg jobs.ProbeConfig
	fs.BoolVar(&cfg.JSON, "json", false, "write one JSON record per file instead of a table")
	fs.Int64Var(&cfg.MaxPixels, "max-pixels", 0, "refuse frames above this many pixels (0: 200 MP)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	cfg.Inputs = fs.Args()
	sum, err := jobs.RunProbe(cfg, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "jpegrestore:", err)
		return exitJobFailed
	}
	if sum.Failed > 0 {
		return exitInputFailed
	}
	return exitOK
}

func doctor(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ortLib := fs.String("ort-lib", "", "ONNX Runtime shared library (default $"+gpuworker.EnvLibrary+", then .deps/onnxruntime/)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	path, err := gpuworker.LibraryPath(*ortLib)
	if err == nil {
		err = gpuworker.Init(path)
	}
	if err != nil {
		fmt.Fprintln(stderr, "jpegrestore:", err)
		return exitJobFailed
	}
	fmt.Fprintf(stdout, "onnxruntime %s (%s)\n", gpuworker.Version(), path)
	fmt.Fprintf(stdout, "libjpeg-turbo %s (TurboJPEG API)\n", jpeg.LibraryVersion())
	return exitOK
}
