#!/bin/sh
# Before removing the vtpeer package: stop the service if it runs.
set -e
if [ -d /run/systemd/system ]; then
  systemctl stop vtpeer.service >/dev/null 2>&1 || true
fi
