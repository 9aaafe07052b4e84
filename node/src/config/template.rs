//! The `node.toml` that `wildnet init` writes (and `node.example.toml`
//! mirrors, checked by a test): every key with its default and a comment.

use crate::record::AgencyId;

/// The `node.toml` that `wildnet init` writes: every key, with defaults.
pub fn default_toml(id: &AgencyId, name: &str) -> String {
    let name = name.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        r#"# wildnet node configuration for {id}. Paths are relative to this file.

[agency]
id = "{id}"
name = "{name}"
# Ed25519 record-signing key (PKCS#8 PEM, mode 0600).
signing_key = "keys/signing.key.pem"
# ECDSA P-256 TLS key (PKCS#8 PEM, mode 0600), for the federation.
tls_key = "keys/tls.key.pem"

[storage]
# Database and the Agency service's Unix socket (data/wildnet.sock, mode 0600).
data_dir = "data"
# How often expired records are purged, seconds.
purge_interval_secs = 60
# sled's page cache, MiB: more is faster under write load, less keeps the
# node's memory down (node RSS is several times this; see README
# Performance).
cache_mb = 64

[api]
# Also serve the Agency service on TCP (plaintext: loopback or a trusted
# network only). Port 0 picks a free port.
# tcp = "127.0.0.1:7401"

[http]
# Metrics (/metrics, OpenMetrics text), health (/healthz, /readyz) and the
# read-only dashboard (/), on one listener; off unless listen is set. On
# loopback no login is asked. On any other address the node refuses to
# start unless it serves HTTPS (tls_cert, tls_key) and asks for a login
# (users: names and argon2 password hashes, added with
# `wildnet admin http-user NAME`).
# listen = "127.0.0.1:8480"
# tls_cert = "http/cert.pem"
# tls_key = "http/key.pem"
# users = "http/users.toml"

[limits]
# Largest record body accepted, bytes.
max_body_bytes = 65536
# Largest gRPC message accepted, bytes.
max_message_bytes = 4194304
# How far ahead of this node's clock a record's created_at may be, seconds
# (records from a node whose clock runs further ahead are refused, with
# the reason, until the clocks agree).
clock_skew_secs = 300
# Calls each peer may have in progress at once on the Federation listener;
# more are refused with RESOURCE_EXHAUSTED while others are served.
peer_requests = 16
# Streams (Pull, Reconcile, DeconflictFilter) each peer may have open.
peer_streams = 4
# Agency API requests in progress at once, all local callers together.
api_requests = 64

[correlation]
# A selector held by more records than this is over-correlating: still
# queryable, left out of correlation results and alerts.
limit = 20
# The warninglists wildnet ships: marketplace no-reply addresses,
# placeholder numbers, reserved domains.
shipped_warninglists = true
# Your own warninglists, MISP's JSON shape (name, version,
# matching_attributes, type string|substring|hostname, list with %).
warninglists = []

[deconfliction]
# The OPRF key that answers hit/no-hit questions (made at the first start).
oprf_key = "keys/oprf.key"
# Answer for LOCAL records too (a hit only names whom to call).
answer_local = true
# Selectors one peer may have evaluated at once, and per day after that.
peer_burst = 500
peer_per_day = 500
# How long `wildnet deconflict` waits for each peer, seconds.
deadline_secs = 5
"#
    )
}
