#!/usr/bin/env bash
# Runs one fuzz target's built binary directly (what `cargo fuzz run` does, without its
# rebuild), single process, under nice, with the settings used for the recorded runs.
# Usage, from the repository root: fuzz/run_one.sh <target> <seconds> [extra libFuzzer flags…]
set -euo pipefail
target=$1
seconds=$2
shift 2
binary=fuzz/target/x86_64-unknown-linux-gnu/release/$target
mkdir -p "fuzz/artifacts/$target" fuzz/logs
exec nice -n 10 "$binary" \
    -artifact_prefix="fuzz/artifacts/$target/" \
    -dict="fuzz/dicts/$target.dict" \
    -max_total_time="$seconds" \
    -rss_limit_mb=4096 \
    -max_len=65536 \
    -timeout=10 \
    -print_final_stats=1 \
    "$@" \
    "fuzz/corpus/$target"
