// Package jobs holds jpegrestore's named jobs: each is a validated Config plus the pipeline it
// builds and runs. restore.go (and watch.go, restore on an interval), survey.go (the report job),
// eval.go and probe.go (markers only, no Beam); run.go runs a pipeline and completes its report
// folder (report.Finish), metrics.go flattens the Beam metrics into the summary. The command line
// (cmd/jpegrestore) only parses flags into these configs.
package jobs
