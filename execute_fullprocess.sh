#!/usr/bin/env bash
# What crontab calls: one riskwatch run from this repository, with its .venv, logged under logs/.
# `execute_fullprocess.sh predict [--backfill]` runs the scheduled predictions instead (their own
# crontab line: `riskwatch predict`, skipped at once when no ingested file is left to predict).
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
what=tick
command=(.venv/bin/python fullprocess.py)
if [ "${1:-}" = "predict" ]; then
  shift
  what=predict
  command=(.venv/bin/python -c 'import sys; from pipeline.cli import main; main(sys.argv[1:])' predict)
fi
echo "=== $(date -u +%FT%TZ) $what start" >>"$log"
"${command[@]}" "$@" >>"$log" 2>&1
status=$?
echo "=== $(date -u +%FT%TZ) $what end, exit $status" >>"$log"
if [ "$status" -ne 0 ]; then
  name=run
  [ "$what" = predict ] && name=predict
  echo "riskwatch $name failed (exit $status); see $PWD/$log" >&2
fi
exit "$status"
