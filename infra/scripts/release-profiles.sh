#!/usr/bin/env bash
# `make release-profiles`: builds every function's release binary under each candidate
# release profile (LTO and codegen units; the rest as in Cargo.toml) in one cargo invocation
# per candidate, and reports the build time, the binaries' total size and the cold start the
# cold-start benchmark measures. The README's "Release profile" table comes from this.
# Each candidate is a clean build in a target dir of its own (target/profiles/<name>).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
CARGO="${CARGO:-cargo}"
candidates=("${@:-fat:1 thin:1 thin:16}")
# shellcheck disable=SC2206
candidates=(${candidates[*]})
packages=()
for dir in functions/*/; do packages+=(-p "$(basename "$dir")"); done
packages+=(-p hello-lambda)
work="$(mktemp -d "${TMPDIR:-/tmp}/release-profiles.XXXXXX")"
trap 'rm -rf "$work"' EXIT

rows=()
for candidate in "${candidates[@]}"; do
  lto="${candidate%%:*}"; units="${candidate##*:}"
  target="$ROOT/target/profiles/lto-$lto-cu-$units"
  rm -rf "$target"
  echo "== lto=$lto codegen-units=$units" >&2
  start=$(date +%s)
  CARGO_PROFILE_RELEASE_LTO="$lto" CARGO_PROFILE_RELEASE_CODEGEN_UNITS="$units" \
    CARGO_TARGET_DIR="$target" "$CARGO" build --release --locked --quiet "${packages[@]}"
  seconds=$(( $(date +%s) - start ))
  bytes=0
  for dir in functions/*/; do
    bytes=$(( bytes + $(stat -c %s "$target/release/$(basename "$dir")") ))
  done
  BENCH_RELEASE_DIR="$target/release" infra/scripts/with-emulators.sh "$CARGO" bench --locked \
    --profile dev -p integration-tests --bench coldstart > "$work/coldstart.out"
  # The benchmark's table: | function | cold p50 | ... ; the mean cold p50 of the functions.
  cold=$(awk -F'|' '/^\| [a-z-]+ \|/ && $2 !~ /hello-lambda|function/ {split($4, a, " "); s += a[1]; n++} END {printf "%.1f", s / n}' "$work/coldstart.out")
  hello=$(awk -F'|' '/^\| hello-lambda \|/ {split($4, a, " "); print a[1]}' "$work/coldstart.out")
  rows+=("| $lto | $units | $(( seconds / 60 )) min $(( seconds % 60 )) s | $(( bytes / 1048576 )).$(( bytes % 1048576 * 10 / 1048576 )) MiB | $cold ms | $hello ms |")
  cat "$work/coldstart.out" >&2
done
echo
echo "| LTO | codegen units | clean release build of all functions | total size (x86_64) | mean cold start p50 | hello world |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
