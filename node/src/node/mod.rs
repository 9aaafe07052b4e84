//! The agency's domain operations on top of storage, one file per use
//! case: [`publish`] (drafts into signed, stored records; retraction),
//! [`import`] (the import pipeline), [`read`] (get, query), [`membership`] (adopting
//! manifests), [`ingest`] (pulled records; the completeness check's id
//! sets), [`receipts`] (delivery receipts), [`peers`] (cursors and policy
//! epochs), [`correlate`] (records sharing selectors), [`alerts`] (alerts
//! and the watchlist), [`deconflict`] (the filter, answering hit/no-hit
//! questions). No gRPC here: the [`crate::api`] services convert requests
//! and call these.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use ed25519_dalek::SigningKey;

mod alerts;
mod board;
mod correlate;
mod deconflict;
mod import;
mod ingest;
mod membership;
mod operations;
mod peers;
mod publish;
mod read;
mod receipts;

pub use correlate::{Correlation, Links, Suppressed, TopValue};
pub use deconflict::{Deconfliction, FILTER_CHUNK, MAX_QUESTION};
pub use import::Import;
pub use ingest::{Checked, Ingested};
pub use operations::AddedCache;
pub use publish::{LineResult, PreparedBatch};
pub use read::build_query;

use crate::config::Settings;
use crate::record::{self, AgencyId, Limits, LocalTrust, RecordId};
use crate::species::SpeciesTable;
use crate::storage::{AuditDraft, Store, StoreError};

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The draft or request is invalid.
    #[error("{0}")]
    Invalid(String),
    /// Not allowed for this caller or record.
    #[error("{0}")]
    Refused(String),
    /// Storage said no (or failed).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Loading keys or files failed.
    #[error(transparent)]
    Identity(#[from] crate::identity::IdentityError),
    /// No such thing (a peer, …); the message names it.
    #[error("{0}")]
    Unknown(String),
    /// The node is not in a federation.
    #[error("this node has not joined a federation: run `wildnet federation join` and restart it")]
    NotFederated,
    /// A wait ran out; the message says for what.
    #[error("{0}")]
    Timeout(String),
    /// A rate limit is spent; the message says when it refills.
    #[error("{0}")]
    Exhausted(String),
    /// Not now (a rebuild under way); the message says why.
    #[error("{0}")]
    Unavailable(String),
    /// A task of the node failed (a bug or a shutdown).
    #[error("{0}")]
    Internal(String),
}

impl From<record::ValidationError> for NodeError {
    fn from(e: record::ValidationError) -> Self {
        NodeError::Invalid(e.to_string())
    }
}

impl From<record::RecordError> for NodeError {
    fn from(e: record::RecordError) -> Self {
        NodeError::Invalid(e.to_string())
    }
}

/// The outcome of a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// The record id (the existing one for a duplicate).
    pub id: RecordId,
    /// True when nothing new was stored.
    pub duplicate: bool,
}

/// One running agency node's state.
pub struct Node {
    agency: AgencyId,
    name: String,
    key: SigningKey,
    trust: LocalTrust,
    species: SpeciesTable,
    limits: Limits,
    store: Store,
    correlation: Correlation,
    /// New alerts, for subscribers.
    alerts: tokio::sync::broadcast::Sender<wildnet_proto::v1::Alert>,
    /// Turns true when the node shuts down (ends open local streams).
    closing: tokio::sync::watch::Sender<bool>,
    deconfliction: Deconfliction,
    federation: Option<crate::federation::Federation>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("agency", &self.agency)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Loads the key and opens the store.
    pub fn open(settings: &Settings) -> Result<Arc<Node>, NodeError> {
        let key = crate::identity::load_signing_key(&settings.signing_key)?;
        std::fs::create_dir_all(&settings.data_dir).map_err(|e| {
            NodeError::Invalid(format!(
                "cannot create data dir {}: {e}",
                settings.data_dir.display()
            ))
        })?;
        // Evidence at rest: only the node's user may read the data dir.
        std::fs::set_permissions(&settings.data_dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| {
                NodeError::Invalid(format!(
                    "cannot restrict {} to mode 0700: {e}",
                    settings.data_dir.display()
                ))
            })?;
        let store = Store::open_with(
            &settings.data_dir.join("db"),
            settings.agency.as_str(),
            settings.cache_bytes,
        )?;
        // In the background: start-up does not wait for the phone plans.
        std::thread::spawn(record::selector::warm_up);
        let correlation = Correlation::load(&settings.correlation).map_err(NodeError::Invalid)?;
        let oprf = crate::identity::load_or_create_oprf_key(&settings.deconfliction.oprf_key)?;
        let deconfliction = Deconfliction::new(oprf, settings.deconfliction.clone());
        let federation = match &settings.federation {
            None => None,
            Some(f) => {
                let stored = store.adopted_manifest()?;
                Some(
                    crate::federation::Federation::load(
                        settings.agency.as_str(),
                        f,
                        &settings.tls_key,
                        stored,
                    )
                    .map_err(|e| NodeError::Invalid(format!("[federation]: {e}")))?,
                )
            }
        };
        Ok(Arc::new(Node {
            federation,
            correlation,
            alerts: tokio::sync::broadcast::channel(1024).0,
            closing: tokio::sync::watch::channel(false).0,
            deconfliction,
            trust: LocalTrust {
                agency: settings.agency.clone(),
                key: key.verifying_key(),
            },
            agency: settings.agency.clone(),
            name: settings.name.clone(),
            key,
            species: SpeciesTable::builtin(),
            limits: settings.limits,
            store,
        }))
    }

    /// The agency id.
    pub fn agency(&self) -> &AgencyId {
        &self.agency
    }

    /// The agency display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verifying key records are signed with.
    pub fn public_key(&self) -> ed25519_dalek::VerifyingKey {
        self.key.verifying_key()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The federation, when the node has joined one.
    pub fn federation(&self) -> Option<&crate::federation::Federation> {
        self.federation.as_ref()
    }

    /// Ends the node's open local streams (alert subscriptions): it is
    /// shutting down.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Turns true when the node shuts down.
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Appends an audit entry without waiting for its flush.
    pub fn audit_nowait(&self, actor: &str, action: &str, detail: String) {
        let entry = AuditDraft {
            actor: actor.to_string(),
            action: action.to_string(),
            detail,
        };
        if let Err(e) = self.store.audit_queue(entry) {
            tracing::error!(cause = %e, "audit append failed");
        }
    }
}
