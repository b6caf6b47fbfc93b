#!/usr/bin/env bash
# Prints the size of each function's bootstrap as `sam build` left it in .aws-sam/build.
set -euo pipefail
cd "$(dirname "$0")/../.."
printf '| function | bootstrap (arm64, stripped) |\n|---|---|\n'
for bootstrap in .aws-sam/build/*/bootstrap; do
  [ -f "$bootstrap" ] || continue
  function=$(basename "$(dirname "$bootstrap")")
  printf '| %s | %s KiB |\n' "$function" "$(( $(stat -c %s "$bootstrap") / 1024 ))"
done
