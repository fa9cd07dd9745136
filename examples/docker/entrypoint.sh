#!/bin/sh
# `wiretun up` returns once the interface is configured (its wiretund keeps running), so this script stays
# in the foreground and runs `wiretun down` when the container is stopped.
set -eu
iface=${WIRETUN_INTERFACE:-wg0}
wiretun up "$iface"
trap 'wiretun down "$iface"; exit 0' TERM INT
wg show "$iface" 2>/dev/null || true
while :; do sleep 3600 & wait $!; done
