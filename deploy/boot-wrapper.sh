#!/bin/sh
# Starts Beam's boot program (which fetches and starts the SDK worker, bin/jpegrestore) for a
# PROCESS environment: --environment_type PROCESS --environment_config '{"command":"<this file>"}'.
# Prism v2.77.0 passes the worker id in single quotes (--id='ID'), which boot does not accept, so
# this strips single quotes from every argument. Keep it beside the boot program:
#   go build -o bin/boot github.com/apache/beam/sdks/v2/go/container && cp deploy/boot-wrapper.sh bin/
for a; do shift; set -- "$@" "$(printf '%s' "$a" | tr -d "'")"; done
exec "$(dirname "$0")/boot" "$@"
