//! The agency's domain operations on top of storage: turn drafts into
//! signed records, store them, answer queries, retract. No gRPC here: the
//! service module converts requests and calls these.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use prost::Message;
use sha2::{Digest, Sha256};
use wildnet_proto::v1 as pb;

mod exchange;

pub use exchange::{Checked, Ingested};

use crate::config::Settings;
use crate::record::terms::{self, Field, Term};
use crate::record::{self, AgencyId, Limits, LocalTrust, Record, RecordId, normalize};
use crate::species::SpeciesTable;
use crate::storage::{
    AuditDraft, InsertItem, Inserted, Query, QueryPage, Store, StoreError, Stored,
};

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
    federation: Option<crate::federation::Federation>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("agency", &self.agency)
            .finish_non_exhaustive()
    }
}

/// Import results: per line, the outcome.
pub type LineResult = (u64, Result<Published, NodeError>);

/// Drafts after [`Node::prepare_batch`], ready for [`Node::store_batch`].
#[derive(Default)]
pub struct PreparedBatch {
    items: Vec<InsertItem>,
    lines: Vec<(u64, RecordId)>,
    failed: Vec<LineResult>,
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

    /// The version of the manifest in force (0 outside a federation).
    pub fn manifest_version(&self) -> u64 {
        self.federation
            .as_ref()
            .map_or(0, |f| f.current().version())
    }

    /// Checks that `key` may sign for `author` at `at`: against the manifest
    /// in force in a federation, else only this node's own key.
    pub fn check_signer(
        &self,
        author: &str,
        key: &ed25519_dalek::VerifyingKey,
        at: i64,
    ) -> Result<(), record::RecordError> {
        use crate::record::KeyBinding;
        match &self.federation {
            Some(f) => f.current().check(author, key, at),
            None => self.trust.check(author, key, at),
        }
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

    /// Verifies a manifest against the CA and adopts it when newer:
    /// persisted first, then in force, then gossiped by the peer links.
    pub async fn adopt_manifest(&self, m: pb::Manifest, source: &str) -> pb::OfferManifestResponse {
        use crate::membership::manifest::Trusted;
        let Some(fed) = &self.federation else {
            return pb::OfferManifestResponse {
                adopted: false,
                version: 0,
                reason: "this node has not joined a federation (wildnet federation join)".into(),
            };
        };
        let current = fed.current();
        let verdict = Trusted::verify(m, fed.ca())
            .and_then(|t| Trusted::check_newer(Some(&current), &t).map(|n| (t, n)));
        let (t, newer) = match verdict {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(source, cause = %e, "manifest refused");
                self.audit_nowait(source, "manifest-refused", e.to_string());
                return pb::OfferManifestResponse {
                    adopted: false,
                    version: current.version(),
                    reason: e.to_string(),
                };
            }
        };
        if !newer {
            return pb::OfferManifestResponse {
                adopted: false,
                version: current.version(),
                reason: format!("version {} is already in force", current.version()),
            };
        }
        let version = t.version();
        let adopted = crate::storage::PeerWrite::Manifest(t.manifest().clone());
        if let Err(e) = self.store.write_peer_state(vec![adopted]).await {
            tracing::error!(cause = %e, "cannot persist the manifest");
            return pb::OfferManifestResponse {
                adopted: false,
                version: current.version(),
                reason: format!("cannot persist the manifest: {e}"),
            };
        }
        // Joining a group widens what this node may hold: records of that
        // group are behind the cursors, so pull every peer again.
        let me = self.agency.as_str();
        let before = crate::policy::groups_of(me, &current);
        let joined: Vec<String> = crate::policy::groups_of(me, &t)
            .into_iter()
            .filter(|g| !before.contains(g))
            .collect();
        fed.put_in_force(t);
        if !joined.is_empty()
            && let Err(e) = self
                .reset_cursors(&format!(
                    "manifest version {version} adds this agency to group(s) {}",
                    joined.join(", ")
                ))
                .await
        {
            tracing::error!(cause = %e, "cannot reset the cursors");
        }
        tracing::info!(source, version, "manifest adopted");
        self.audit_nowait(source, "manifest-adopted", format!("version {version}"));
        pb::OfferManifestResponse {
            adopted: true,
            version,
            reason: String::new(),
        }
    }

    /// Turns a draft into a signed record: defaults, normalisation, author
    /// and time, validation, signature. Also returns the draft digest.
    pub fn prepare(&self, mut draft: pb::RecordBody) -> Result<(Record, [u8; 32]), NodeError> {
        draft.schema_version = record::SCHEMA_VERSION;
        draft.author = self.agency.to_string();
        draft.created_at = 0;
        let h = draft.handling.get_or_insert_with(Default::default);
        if h.tlp == 0 {
            h.tlp = pb::Tlp::Amber as i32;
        }
        if h.scope == 0 {
            h.scope = pb::Scope::Local as i32;
        }
        if h.code == 0 {
            h.code = pb::HandlingCode::H0 as i32;
        }
        normalize::draft(&mut draft, &self.species)?;
        let digest: [u8; 32] = Sha256::digest(draft.encode_to_vec()).into();
        draft.created_at = crate::now_ms();
        record::validate::validate_body(&draft, &self.limits)?;
        self.check_signer(
            self.agency.as_str(),
            &self.key.verifying_key(),
            draft.created_at,
        )
        .map_err(|e| {
            NodeError::Refused(format!(
                "this node's signing key cannot sign for {} under the manifest in force: {e}",
                self.agency
            ))
        })?;
        let rec = Record::sign(draft, &self.key);
        if rec.signed().body.len() > self.limits.max_body_bytes {
            return Err(NodeError::Invalid(format!(
                "record body is {} bytes, over the limit of {} ([limits] max_body_bytes)",
                rec.signed().body.len(),
                self.limits.max_body_bytes
            )));
        }
        self.check_references(&rec)?;
        Ok((rec, digest))
    }

    /// A new version or retraction must name one of this agency's records.
    fn check_references(&self, rec: &Record) -> Result<(), NodeError> {
        let body = rec.body();
        let mut targets = Vec::new();
        if !body.supersedes.is_empty() {
            targets.push(("supersede", body.supersedes.as_str()));
        }
        if let Some(pb::record_body::Payload::Retraction(r)) = &body.payload {
            targets.push(("retract", r.target.as_str()));
        }
        for (what, t) in targets {
            let id: RecordId = t
                .parse()
                .map_err(|_| NodeError::Invalid(format!("cannot {what} {t:?}: not a record id")))?;
            if let Some(ts) = self.store.tombstone(&id)? {
                return Err(NodeError::Refused(format!(
                    "cannot {what} {}: it was retracted ({})",
                    id.short(),
                    ts.reason
                )));
            }
            let Some(s) = self.store.get(&id)? else {
                return Err(NodeError::Invalid(format!(
                    "cannot {what} {}: no such record here",
                    id.short()
                )));
            };
            if s.record.body().author != self.agency.as_str() {
                return Err(NodeError::Refused(format!(
                    "cannot {what} {}: it was written by {}, and only its author may",
                    id.short(),
                    s.record.body().author
                )));
            }
            if what == "supersede"
                && let Some(newer) = s.superseded_by
            {
                return Err(NodeError::Refused(format!(
                    "cannot supersede {}: it already has a newer version {}; edit that one",
                    id.short(),
                    newer.short()
                )));
            }
        }
        Ok(())
    }

    /// Signs and durably stores one draft.
    pub async fn publish(
        &self,
        draft: pb::RecordBody,
        actor: &str,
    ) -> Result<Published, NodeError> {
        let (rec, digest) = self.prepare(draft)?;
        let kind = rec.kind();
        let id = rec.id();
        let audit = AuditDraft {
            actor: actor.to_string(),
            action: "publish".into(),
            detail: format!("{kind} {id}"),
        };
        let mut results = self
            .store
            .insert(
                vec![InsertItem {
                    record: rec,
                    draft_key: Some(digest),
                    from: String::new(),
                }],
                vec![audit],
            )
            .await?;
        match results.pop() {
            Some(Ok(Inserted::New(_))) => Ok(Published {
                id,
                duplicate: false,
            }),
            Some(Ok(Inserted::Duplicate(existing))) => Ok(Published {
                id: existing,
                duplicate: true,
            }),
            Some(Err(e)) => Err(e.into()),
            None => Err(NodeError::Store(StoreError::Closed)),
        }
    }

    /// Signs and stores a batch of drafts with one flush; a bad draft is
    /// answered with its reason and the others go on.
    pub async fn publish_batch(&self, drafts: Vec<(u64, pb::RecordBody)>) -> Vec<LineResult> {
        let prepared = self.prepare_batch(drafts);
        self.store_batch(prepared).await
    }

    /// The CPU half of [`Node::publish_batch`]: prepares (normalises,
    /// validates, signs) every draft, spread over the cores. Runs on the
    /// caller's thread (use a blocking task).
    pub fn prepare_batch(&self, drafts: Vec<(u64, pb::RecordBody)>) -> PreparedBatch {
        let mut batch = PreparedBatch::default();
        let prepared = crate::limits::par_map(drafts, |(line, d)| (line, self.prepare(d)));
        for (line, p) in prepared {
            match p {
                Ok((record, digest)) => {
                    batch.lines.push((line, record.id()));
                    batch.items.push(InsertItem {
                        record,
                        draft_key: Some(digest),
                        from: String::new(),
                    });
                }
                Err(e) => batch.failed.push((line, Err(e))),
            }
        }
        batch
    }

    /// The storage half of [`Node::publish_batch`]: one durable write;
    /// results by line.
    pub async fn store_batch(&self, batch: PreparedBatch) -> Vec<LineResult> {
        let PreparedBatch {
            items,
            lines,
            failed: mut out,
        } = batch;
        if items.is_empty() {
            return out;
        }
        match self.store.insert(items, Vec::new()).await {
            Ok(results) => {
                for ((line, id), r) in lines.into_iter().zip(results) {
                    out.push((
                        line,
                        match r {
                            Ok(Inserted::New(_)) => Ok(Published {
                                id,
                                duplicate: false,
                            }),
                            Ok(Inserted::Duplicate(e)) => Ok(Published {
                                id: e,
                                duplicate: true,
                            }),
                            Err(e) => Err(e.into()),
                        },
                    ));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for (line, _) in lines {
                    out.push((
                        line,
                        Err(NodeError::Store(StoreError::Corrupt(msg.clone()))),
                    ));
                }
            }
        }
        out.sort_by_key(|(l, _)| *l);
        out
    }

    /// Retracts one of this agency's records with every version of it
    /// (older and newer), in one durable batch. Returns the id of the
    /// retraction of the record named.
    pub async fn retract(
        &self,
        id_text: &str,
        reason: &str,
        actor: &str,
    ) -> Result<Published, NodeError> {
        let target = self.store.resolve(id_text)?;
        if let Some(t) = self.store.tombstone(&target)? {
            return Err(NodeError::Refused(format!(
                "{} is already retracted ({})",
                target.short(),
                t.reason
            )));
        }
        let mut versions = self.store.history(&target)?;
        versions.reverse();
        let mut items = Vec::new();
        let mut audit = Vec::new();
        let mut named = None;
        for v in versions {
            let vid = v.record.id();
            let draft = pb::RecordBody {
                handling: v.record.body().handling.clone(),
                payload: Some(pb::record_body::Payload::Retraction(pb::Retraction {
                    target: vid.to_hex(),
                    reason: reason.to_string(),
                })),
                ..Default::default()
            };
            let (record, digest) = self.prepare(draft)?;
            if vid == target {
                named = Some(record.id());
            }
            audit.push(AuditDraft {
                actor: actor.to_string(),
                action: "retract".into(),
                detail: format!("{vid} by {}", record.id()),
            });
            items.push(InsertItem {
                record,
                draft_key: Some(digest),
                from: String::new(),
            });
        }
        let named = named.ok_or_else(|| {
            NodeError::Invalid(format!("no record {} to retract", target.short()))
        })?;
        for r in self.store.insert(items, audit).await? {
            r?;
        }
        Ok(Published {
            id: named,
            duplicate: false,
        })
    }

    /// A record and its versions, or its tombstone.
    pub fn get(&self, id_text: &str) -> Result<(Stored, Vec<Stored>), NodeError> {
        let id = self.store.resolve(id_text)?;
        match self.store.get(&id)? {
            Some(s) => {
                let history = self.store.history(&id)?;
                Ok((s, history))
            }
            None => match self.store.tombstone(&id)? {
                Some(t) => {
                    let mut reason =
                        format!("{} — retraction {} by {}", t.reason, t.retraction, t.author);
                    if !t.confirmed {
                        let by: Vec<&str> = std::iter::once(t.author.as_str())
                            .chain(t.rivals.iter().map(|r| r.author.as_str()))
                            .collect();
                        reason.push_str(&format!(
                            "; pending: never held here, so a copy is refused only if written by {}",
                            by.join(" or ")
                        ));
                    }
                    // On the author's node: who confirmed the deletion
                    // (their receipts for the retraction record).
                    if t.author == self.agency.as_str()
                        && let Ok(r) = t.retraction.parse::<RecordId>()
                    {
                        let confirmed: Vec<String> =
                            self.holders(&r)?.into_iter().map(|(a, _)| a).collect();
                        if !confirmed.is_empty() {
                            reason.push_str(&format!(
                                "; deletion confirmed by {}",
                                confirmed.join(", ")
                            ));
                        }
                    }
                    Err(NodeError::Store(StoreError::Retracted { id: t.id, reason }))
                }
                None => Err(NodeError::Store(StoreError::NotFound(id_text.to_string()))),
            },
        }
    }

    /// Runs a query request.
    pub fn query(&self, req: &pb::QueryRequest) -> Result<QueryPage, NodeError> {
        let q = build_query(req, &self.species)?;
        Ok(self.store.query(&q)?)
    }
}

/// Turns API filters into index terms; each filter value is normalised the
/// same way the indexed values were.
pub fn build_query(req: &pb::QueryRequest, species: &SpeciesTable) -> Result<Query, NodeError> {
    let mut t: Vec<Term> = Vec::new();
    let s = |v: &str| v.trim().to_string();
    if !req.kind.trim().is_empty() {
        let k = req.kind.trim().to_lowercase().replace('-', "_");
        if !record::KINDS.contains(&k.as_str()) {
            return Err(NodeError::Invalid(format!(
                "unknown kind {k:?}: use one of {}",
                record::KINDS.join(", ")
            )));
        }
        t.push((Field::Kind, k));
    }
    if !req.species.trim().is_empty() {
        let mut sp = pb::Species {
            scientific_name: s(&req.species),
            ..Default::default()
        };
        species.fill(&mut sp);
        t.push((Field::Species, sp.scientific_name.to_lowercase()));
    }
    if !req.appendix.trim().is_empty() {
        let a = crate::species::parse_appendix(&req.appendix)
            .map(|a| crate::species::appendix_text(a as i32))
            .filter(|a| matches!(*a, "I" | "II" | "III"))
            .ok_or_else(|| {
                NodeError::Invalid(format!("appendix {:?} must be I, II or III", req.appendix))
            })?;
        t.push((Field::Appendix, a.to_string()));
    }
    if !req.country.trim().is_empty() {
        let c = s(&req.country).to_uppercase();
        record::validate::country("country", &c)?;
        t.push((Field::Country, c));
    }
    if !req.platform.trim().is_empty() {
        t.push((Field::Platform, s(&req.platform).to_lowercase()));
    }
    if !req.seller.trim().is_empty() {
        t.push((
            Field::Seller,
            s(&req.seller).trim_start_matches('@').to_lowercase(),
        ));
    }
    if !req.selector.trim().is_empty() {
        let sel = normalize::parse_selector(&req.selector).map_err(NodeError::Invalid)?;
        t.push((Field::Selector, normalize::selector_text(&sel)));
    }
    if !req.author.trim().is_empty() {
        let a: AgencyId = s(&req.author)
            .to_uppercase()
            .parse()
            .map_err(|e: record::IdError| NodeError::Invalid(e.to_string()))?;
        t.push((Field::Author, a.to_string()));
    }
    if !req.code.trim().is_empty() {
        let c = s(&req.code).to_uppercase();
        if !matches!(c.as_str(), "H0" | "H1" | "H2" | "H3") {
            return Err(NodeError::Invalid(format!(
                "handling code {:?} must be H0, H1, H2 or H3",
                req.code
            )));
        }
        t.push((Field::Code, c));
    }
    if !req.tag.trim().is_empty() {
        t.push((Field::Tag, s(&req.tag).to_lowercase()));
    }
    let words: Vec<String> = terms::words(&req.text).collect();
    if !req.text.trim().is_empty() && words.is_empty() {
        return Err(NodeError::Invalid(
            "--text needs at least one word of 3 or more letters".into(),
        ));
    }
    t.extend(words.into_iter().map(|w| (Field::Word, w)));
    if req.since != 0 && req.until != 0 && req.until <= req.since {
        return Err(NodeError::Invalid("--until must be after --since".into()));
    }
    let after = if req.page_token.is_empty() {
        None
    } else {
        Some(
            crate::storage::keys::decode_cursor(&req.page_token).ok_or_else(|| {
                NodeError::Invalid("page_token is not one this node issued".into())
            })?,
        )
    };
    Ok(Query {
        terms: t,
        since: (req.since != 0).then_some(req.since),
        until: (req.until != 0).then_some(req.until),
        limit: if req.limit == 0 {
            100
        } else {
            req.limit.min(1000) as usize
        },
        after,
        history: req.history,
    })
}
