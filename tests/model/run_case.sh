#!/usr/bin/env bash
# One model test: synthesize a tiny checkpoint with `glm synth ARGS...`, then compare `glm run`
# against the numpy reference (compare.py) on a fixed prompt, 32 greedy steps.
# usage: run_case.sh GLM PYTHON WORKDIR PROMPT_IDS [--glm-arg X ...] -- SYNTH_ARGS...
set -euo pipefail
glm=$1 py=$2 dir=$3 ids=$4
shift 4
extra=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do extra+=("$1"); shift; done
shift
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$dir"
"$glm" synth --out "$dir" "$@"
"$py" "$here/compare.py" --glm "$glm" --model "$dir" --prompt-ids "$ids" -n 32 "${extra[@]+"${extra[@]}"}"
