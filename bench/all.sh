#!/usr/bin/env bash
# Every figure the relay's performance is judged by, in one run (issue "the relay must not
# slow down"): intake against Postfix alone at 1, 10 and 50 sessions (SMS and ordinary mail,
# unix and inet socket, beside a do-nothing libmilter filter, with the CPU time per mail and
# the daemon's RSS idle and peak), the drain of a 1,000-alert burst at 100 ms Twilio latency
# (SMS/s, requests per connection), memory on a MIME flood, where the idle RSS comes from,
# and what a metrics scrape costs intake and the daemon's CPU.
# Loopback only, as root; prints figures, asserts nothing.
# Usage: bench/all.sh [BINARY]   (default build/sms-milter)
# Takes about 10 minutes on 2 cores; run it on a quiet machine, the figures share its CPU.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bin=$(readlink -f "${1:-$here/../build/sms-milter}")
export SMS_MILTER_BIN=$bin

echo "== intake, sending kept out (bench/intake.py --rounds 3 --floor --twilio-latency-ms 60000)"
python3 "$here/intake.py" --mails 1000 --sessions 1,10,50 --rounds 3 --floor --twilio-latency-ms 60000
echo
echo "== drain (bench/burst.py: 1,000 alerts to 10 numbers, 100 ms Twilio latency, no limits or spacing)"
python3 "$here/burst.py" --mails 1000 --latency-ms 100
echo
echo "== drain on the program's defaults, every one (bench/burst.py --defaults: a number per alert)"
python3 "$here/burst.py" --mails 1000 --latency-ms 100 --defaults
echo
echo "== MIME flood (bench/mime_flood.sh: render and the daemon)"
bash "$here/mime_flood.sh" "$bin"
echo
echo "== metrics scrape (bench/metrics_scrape.py: intake with and without a scrape a second)"
python3 "$here/metrics_scrape.py" --mails 1000 --rounds 4 --interval 1
echo
echo "== memory floor (bench/memory_floor.py: the libraries' share of the idle RSS)"
python3 "$here/memory_floor.py"
