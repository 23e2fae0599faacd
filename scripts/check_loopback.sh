#!/usr/bin/env bash
# Run a command while capturing DDS traffic (RTPS over UDP, any port) and UDP multicast on every
# non-loopback interface, then print the packet count per interface (expected: 0).
#   sudo scripts/check_loopback.sh make test
# Needs root and tcpdump (apt-get install tcpdump). Exit status is the command's.
set -uo pipefail
[ $# -gt 0 ] || { echo "usage: $0 <command...>" >&2; exit 2; }
command -v tcpdump >/dev/null || { echo "tcpdump not found (apt-get install tcpdump)" >&2; exit 2; }
# Every RTPS packet (UDP payload starting "RTPS", whatever the port: domain d uses ports from
# 7400 + 250 d, so a fixed port range would miss most domains) and all UDP multicast (SPDP
# discovery). Not ARP or IPv6 neighbour discovery: those come from the network itself.
filter='udp and (udp[8:4] = 0x52545053 or ip multicast or ip6 multicast)'
capture_dir=$(mktemp -d)
pids=()
for iface in $(ls /sys/class/net); do
  [ "$iface" = lo ] && continue
  [ "$(cat "/sys/class/net/$iface/operstate" 2>/dev/null)" = down ] && continue
  tcpdump -i "$iface" -n -U -w "$capture_dir/$iface.pcap" "$filter" 2>"$capture_dir/$iface.err" &
  pids+=($!)
done
sleep 1  # let tcpdump attach before the command starts
"$@"
status=$?
for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
for pcap in "$capture_dir"/*.pcap; do
  [ -e "$pcap" ] || continue
  count=$(tcpdump -r "$pcap" -n 2>/dev/null | wc -l)
  echo "loopback check: $(basename "$pcap" .pcap): $count DDS/multicast packets (filter: $filter)"
  [ "$count" -gt 0 ] && tcpdump -r "$pcap" -n -v 2>/dev/null | head -20  # what they were
done
rm -rf "$capture_dir"
exit $status
