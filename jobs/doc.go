// Package jobs holds jpegrestore's named jobs: each is a validated Config plus what it runs. The
// command line (cmd/jpegrestore) only parses flags into these configs.
//
// Today it has probe, a local survey of JPEG files that reads only their markers: size, coding,
// subsampling and the quality factor estimated from the quantization tables. The Beam jobs
// (restore, watch, report, eval) build on the same per-file record.
package jobs
