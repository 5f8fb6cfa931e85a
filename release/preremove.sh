#!/bin/sh
# Before removing aispool (not before an upgrade): stop and disable the daemon. It leaves what it has not
# delivered in its spool, /var/lib/aispool, which removal keeps.
set -e
case "$1" in
	remove|purge|0)
		if [ -d /run/systemd/system ]; then
			systemctl disable --now aispool >/dev/null 2>&1 || true
		fi
		;;
esac
exit 0
