#!/usr/bin/env bash
# The first run: builds wildnet, then `wildnet demo` makes a federation of
# four agencies on this machine (real wildnet-node processes, real
# certificates, mutual TLS on loopback) and narrates one case through it:
# sharing by handling, a cross-border correlation and its alert,
# deconfliction, a joint operation, a retraction, the completeness check.
#
#   ./scripts/quickstart.sh                 # build, run the demo, stop its nodes
#   ./scripts/quickstart.sh --keep          # ... and leave the nodes running
#   ./scripts/quickstart.sh --dir fed-demo --seed 7
#
# Every flag goes to `wildnet demo` (see `wildnet demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> building (release)"
cargo build --release --locked --bins -q
exec target/release/wildnet demo "$@"
