#!/usr/bin/env bash
# demo.sh — the README's first command ends here: builds glm if needed, then starts
# `glm serve` on the built-in demo checkpoint. `glm serve` without --model writes that checkpoint
# once (glm synth --like glm-4.5-air --tiny: the real tensor names and config, RANDOM weights)
# into ${GLM_DEMO_DIR:-${XDG_CACHE_HOME:-~/.cache}/glm/demo} and says so in its log and in
# /v1/models. Every API feature works; the generated text is gibberish.
# Usage: scripts/demo.sh [glm serve flags...]   e.g. scripts/demo.sh --port 8080
set -euo pipefail
cd "$(dirname "$0")/.."
GLM=${GLM:-build/glm}
if [ ! -x "$GLM" ]; then
  echo "demo: building glm first (scripts/setup.sh)" >&2
  scripts/setup.sh
fi
dir=${GLM_DEMO_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/glm/demo}
if [ ! -f "$dir/config.json" ]; then
  echo "demo: creating the demo checkpoint in $dir (random weights)" >&2
  mkdir -p "$(dirname "$dir")"
  tmp="$dir.tmp-$$"
  "$GLM" synth --like glm-4.5-air --tiny --out "$tmp" >&2
  printf '%s\n' "Written by scripts/demo.sh (glm synth --like glm-4.5-air --tiny) for glm serve's demo mode." \
    "Its weights are random: every API feature works, but the generated text is gibberish." > "$tmp/DEMO-RANDOM-WEIGHTS.txt"
  mv "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
fi
echo "demo: try  curl http://127.0.0.1:8000/v1/chat/completions -H 'Content-Type: application/json' \\" >&2
echo "             -d '{\"model\": \"glm-demo\", \"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}]}'" >&2
export GLM_DEMO_DIR=$dir
exec "$GLM" serve "$@"
