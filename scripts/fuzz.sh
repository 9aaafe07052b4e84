#!/usr/bin/env bash
# Coverage-guided fuzzing of every input a node takes from outside
# (cargo fuzz, libFuzzer): writes the seeds as the starting corpus, then
# runs each target for SECS seconds (default 600). A crash, hang or
# over-limit allocation stops with its input in fuzz/artifacts/<target>/:
# fix it and keep the input in fuzz/regressions/<target>/, which
# `cargo test` replays. Stable Rust: RUSTC_BOOTSTRAP=1 lets it take the
# sanitizer flags that are nightly-only.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-600}
ONLY=${2:-}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
cargo run -q -p wildnet-tests --example fuzz_seeds
export RUSTC_BOOTSTRAP=1
mkdir -p fuzz/logs
for t in $(cargo fuzz list --fuzz-dir fuzz); do
  [ -n "$ONLY" ] && [ "$t" != "$ONLY" ] && continue
  echo "== $t: $SECS s"
  if ! cargo fuzz run --fuzz-dir fuzz "$t" "fuzz/corpus/$t" -- \
      -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
      -max_len=65536 -print_final_stats=1 > "fuzz/logs/$t.log" 2>&1; then
    tail -40 "fuzz/logs/$t.log"
    echo "fuzz target $t failed: the input is in fuzz/artifacts/$t/" >&2
    exit 1
  fi
  grep -E "^Done|stat::number_of_executed_units|stat::peak_rss_mb|cov: " "fuzz/logs/$t.log" | tail -4
done
