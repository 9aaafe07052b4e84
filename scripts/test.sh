#!/usr/bin/env bash
# Runs the whole test suite. The interoperability test drives a node's
# Federation port with Python grpcio (a stock BoringSSL gRPC stack), the
# STIX tests check bundles with the OASIS stix2-validator and stix2
# libraries, and a key test reads every key file with the openssl CLI, so
# these are installed first when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import grpc' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check 'grpcio==1.85.3'
# stix2-validator 3.3.1's wheel lacks its schemas; 3.3.2 has them.
python3 -c 'import stix2, stix2validator' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check 'stix2==3.0.2' 'stix2-validator==3.3.2'
command -v openssl >/dev/null \
  || { apt-get update -qq && apt-get install -y -qq openssl >/dev/null; }
exec cargo test --workspace --locked "$@"
