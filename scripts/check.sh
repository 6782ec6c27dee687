#!/usr/bin/env bash
# Runs what CI runs: formatting, clippy with warnings denied, and the tests (which include the
# layer check, tests/architecture.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== rustfmt"
cargo fmt --all -- --check

echo "== clippy"
cargo clippy --all-targets -- -D warnings

echo "== tests"
cargo test

echo "== the real window under Xvfb"
if command -v xvfb-run >/dev/null; then
    cargo test --test screenshot -- --ignored
elif [[ "${CI:-}" == "true" ]]; then
    echo "xvfb-run is missing on CI" >&2
    exit 1
else
    echo "skipped: xvfb-run is not installed (apt-get install xvfb xauth)"
fi
