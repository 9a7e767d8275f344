#!/usr/bin/env bash
# What crontab calls: one riskwatch run from this repository, with its .venv, logged under logs/.
# Overlapping ticks are safe: riskwatch's own lock makes the second one exit 0 at once.
# The exit status is riskwatch's, so cron (and MAILTO) see every failure.
set -uo pipefail
cd "$(dirname "$(readlink -f "$0")")" || exit 1
mkdir -p logs
log="logs/riskwatch-$(date -u +%Y-%m).log"
if [ ! -x .venv/bin/python ]; then
  echo "$(date -u +%FT%TZ) no .venv here: run 'make run' once to create it" | tee -a "$log" >&2
  exit 1
fi
echo "=== $(date -u +%FT%TZ) tick start" >>"$log"
.venv/bin/python fullprocess.py "$@" >>"$log" 2>&1
status=$?
echo "=== $(date -u +%FT%TZ) tick end, exit $status" >>"$log"
if [ "$status" -ne 0 ]; then
  echo "riskwatch run failed (exit $status); see $PWD/$log" >&2
fi
exit "$status"
