#!/bin/sh
# After installing or upgrading aispool: the system user of its unit, and systemd told of the unit. The
# service is not enabled: it needs a connection string in /etc/aispool/env first.
set -e
if ! getent passwd aispool >/dev/null 2>&1; then
	nologin=/usr/sbin/nologin
	[ -x "$nologin" ] || nologin=/sbin/nologin
	useradd --system --user-group --home-dir /var/lib/aispool --no-create-home --shell "$nologin" aispool
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	# An upgrade restarts a running daemon; its spool is on disk and survives.
	if systemctl is-active --quiet aispool; then
		systemctl try-restart aispool || true
	fi
fi
exit 0
