#!/usr/bin/env bash
# Runs the whole test suite. The interoperability test drives a node's
# Federation port with Python grpcio (a stock BoringSSL gRPC stack), and a
# key test reads every key file with the openssl CLI, so both are
# installed first when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import grpc' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check 'grpcio==1.85.3'
command -v openssl >/dev/null \
  || { apt-get update -qq && apt-get install -y -qq openssl >/dev/null; }
exec cargo test --workspace --locked "$@"
