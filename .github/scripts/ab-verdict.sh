#!/usr/bin/env bash
# Read an `asyncio-lab ab` verdict from the comparison.json it wrote under DIR (make and pipes
# blur exit codes; the file does not), add it to the job summary, and fail the step on a
# regression or on no comparison at all. Usage: ab-verdict.sh DIR "what was compared"
set -euo pipefail
dir=$1
what=$2
comparison=$(ls -t "$dir"/ab-*/comparison.json 2>/dev/null | head -n 1 || true)
if [ -z "$comparison" ]; then
  echo "::error::${what}: no comparison written (bad input or crash; see the log above)"
  exit 2
fi
read_field() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$comparison" "$1"; }
code=$(read_field exit_code)
summary=$(read_field summary)
echo "### ${what}: ${summary}" >> "${GITHUB_STEP_SUMMARY:-/dev/null}"
case "$code" in
  0) echo "${what}: pass" ;;
  3) echo "::warning::${what} inconclusive (too noisy or too few values): ${summary}" ;;
  *) echo "::error::${what} found a regression: ${summary}"; exit 1 ;;
esac
