package jobs

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
)

// TestMain runs the pipeline tests on Prism in-process, Beam's default runner.
func TestMain(m *testing.M) {
	log.LogLevel = "warn"
	if os.Getenv("JPEGRESTORE_TEST_VERBOSE") == "" {
		log.SetLogger(quiet{})
		slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil))) // Prism's own log
	}
	ptest.Main(m)
}

type quiet struct{}

func (quiet) Log(ctx context.Context, sev log.Severity, calldepth int, msg string) {}
