//! wildnet-node: one agency's node of the wildnet federation.
//!
//! The modules are layers, declared below from the bottom up: **a module
//! may use only modules listed above it** (`tests/layers.rs` fails the
//! build's tests when an arrow runs up a layer). ARCHITECTURE.md walks one
//! record through them.
//!
//! **Pure domain** — no files, no sockets, no clock but what is passed in.
//! - [`limits`]: the machine's own limits, measured in-process for the
//!   benchmark, and `par_map` over the cores.
//! - [`telemetry`]: the event metrics (counters, histograms) every layer
//!   adds to; `/metrics` serves them.
//! - [`species`]: the shipped CITES reference table that normalises names.
//! - [`record`]: record ids, agency ids, validation, normalisation, index
//!   terms, and the one place that signs and verifies records — Ed25519
//!   over the verbatim body bytes, never re-encoded.
//! - [`warninglist`]: values known to link nothing (MISP's warninglist
//!   shape), shipped and operator lists, matched against correlation keys.
//! - [`membership`]: the CA-signed manifest (who is who), the TLS
//!   verifiers that check peers against it, admission-request checks,
//!   delivery receipts and the set reconciliation of the completeness
//!   check.
//! - [`policy`]: who may hold a record and whether this node may send it to
//!   a peer, as pure functions with exhaustive tests.
//! - [`deconfliction`]: the oblivious PRF (RFC 9497) behind hit/no-hit
//!   questions that do not tell the asked agency what was asked.
//!
//! **Files and settings** — offline tools over an agency or federation dir.
//! - [`layout`]: every file name of an agency dir and a federation dir.
//! - [`config`]: `node.toml` parsed and validated into runtime settings.
//! - [`identity`]: creates, rotates and loads the agency's keys (Ed25519 for
//!   records, ECDSA P-256 for TLS) and its admission request.
//! - [`secretariat`]: the federation's offline CA and manifest editing.
//! - [`join`]: the agency side of admission (installs what the secretariat
//!   returned).
//!
//! **Storage**
//! - [`storage`]: the only module that says sled — records by feed
//!   position, indexes, tombstones, audit chain, peer state — behind one
//!   group-commit writer.
//!
//! **Runtime**
//! - [`federation`]: the running node's federation state — the manifest in
//!   force, its TLS identity, per-peer state, counters and signals.
//! - [`node`]: the agency's domain operations (publish, import, query,
//!   retract, ingest of pulled records, receipts, peer cursors) on top of
//!   storage. No gRPC here.
//! - [`sync`]: the network between nodes — peer links, dialling, Pull
//!   (both sides), the completeness check, receipt delivery.
//!
//! **Surface**
//! - [`api`]: the two gRPC services (Agency, Federation): convert, call the
//!   node, map the result; nothing else.
//! - [`http`]: the HTTP listener — `/metrics`, `/healthz`, `/readyz` and
//!   the read-only dashboard (server-rendered HTML, inline SVG plots).
//! - [`server`]: runs the listeners with health and reflection until
//!   shutdown.
//! - [`client`]: connects a CLI to a node.

pub mod limits;
pub mod telemetry;
pub mod species;
pub mod record;
pub mod warninglist;
pub mod membership;
pub mod policy;
pub mod deconfliction;
pub mod layout;
pub mod config;
pub mod identity;
pub mod secretariat;
pub mod join;
pub mod storage;
pub mod federation;
pub mod node;
pub mod sync;
pub mod api;
pub mod http;
pub mod server;
pub mod client;

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// An error and its sources, each once: "transport error: tcp connect
/// error: Connection refused (os error 111)".
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg = format!("{msg}: {text}");
        }
        src = s.source();
    }
    msg
}
