#!/usr/bin/env bash
# Runs the whole test suite. The interoperability test drives a node's
# Federation port with Python grpcio (a stock BoringSSL gRPC stack), the
# STIX tests check bundles with the OASIS stix2-validator and stix2
# libraries, a key test reads every key file with the openssl CLI, the
# metrics test parses /metrics with the Prometheus Python client's
# OpenMetrics parser, and the dashboard test drives Debian's Chromium
# headless, so these are installed first when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import grpc' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check 'grpcio==1.85.3'
# stix2-validator 3.3.1's wheel lacks its schemas; 3.3.2 has them.
python3 -c 'import stix2, stix2validator' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check 'stix2==3.0.2' 'stix2-validator==3.3.2'
python3 -c 'import prometheus_client' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check 'prometheus_client==0.21.1'
missing=""
command -v openssl >/dev/null || missing="$missing openssl"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
if [ -n "$missing" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
exec cargo test --workspace --locked "$@"
