#!/bin/sh
# Starts Beam's boot program (which fetches and starts the SDK worker, bin/jpegrestore) for a
# PROCESS environment: --environment_type PROCESS --environment_config '{"command":"<this file>"}'.
# Prism v2.77.0 passes the worker id in single quotes (--id='ID'), which boot does not accept, so
# this strips them from that argument. Keep it beside the boot program:
#   go build -o bin/boot github.com/apache/beam/sdks/v2/go/container && cp deploy/boot-wrapper.sh bin/
for a; do
	shift
	case "$a" in
	--id=\'*\') a="--id=$(printf '%s' "${a#--id=}" | tr -d "'")" ;;
	esac
	set -- "$@" "$a"
done
exec "$(dirname "$0")/boot" "$@"
