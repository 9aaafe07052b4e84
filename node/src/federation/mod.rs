//! The running node's federation state: the manifest in force (and a
//! watch on it), this node's TLS identity and configurations, each peer's
//! visible state and byte counters, and the signals that wake peer links
//! (sync now, verify now, receipts queued, shutting down). The network
//! that uses it is in [`crate::sync`]; what it trusts, in
//! [`crate::membership`].

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::watch;
use wildnet_proto::v1 as pb;

mod inflight;

pub use inflight::{InFlight, InFlightGuard};

use crate::config::FederationSettings;
use crate::membership::manifest::{CaKey, Trusted};
use crate::membership::tls::{self, ManifestCell, TlsIdentity};

/// Bytes sent and received on one peer's dialled connections.
#[derive(Debug, Default)]
pub struct WireCount {
    /// Bytes written.
    pub sent: AtomicU64,
    /// Bytes read.
    pub received: AtomicU64,
}

/// The federation state of a running node.
pub struct Federation {
    agency: String,
    ca: CaKey,
    identity: TlsIdentity,
    manifest: ManifestCell,
    changed: watch::Sender<u64>,
    peers: Mutex<BTreeMap<String, pb::PeerState>>,
    settings: FederationSettings,
    sync: watch::Sender<u64>,
    verify: watch::Sender<u64>,
    outbox: Mutex<BTreeMap<String, Arc<tokio::sync::Notify>>>,
    wire: Mutex<BTreeMap<String, Arc<WireCount>>>,
    closing: watch::Sender<bool>,
    in_flight: Arc<InFlight>,
}

impl std::fmt::Debug for Federation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Federation")
            .field("agency", &self.agency)
            .finish_non_exhaustive()
    }
}

fn load_identity(
    settings: &FederationSettings,
    tls_key: &std::path::Path,
) -> Result<TlsIdentity, String> {
    use rustls::pki_types::pem::PemObject;
    if !settings.cert.exists() {
        return Err(format!(
            "{} does not exist: this agency's certificate is not installed yet. Install what the \
             secretariat returned with `wildnet federation join --dir AGENCY_DIR --cert CERT --ca CA \
             --manifest MANIFEST`, or remove [federation] from node.toml to run stand-alone",
            settings.cert.display()
        ));
    }
    let cert = rustls::pki_types::CertificateDer::from_pem_file(&settings.cert).map_err(|e| {
        format!(
            "{}: not a PEM certificate ({e}); install the certificate the secretariat issued with \
             `wildnet federation join`",
            settings.cert.display()
        )
    })?;
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(tls_key)
        .map_err(|e| format!("{}: not a PEM private key ({e})", tls_key.display()))?;
    Ok(TlsIdentity { cert, key })
}

impl Federation {
    /// Loads the CA, this node's certificate and key, and the higher of the
    /// installed manifest file and the manifest last adopted (`stored`).
    pub fn load(
        agency: &str,
        settings: &FederationSettings,
        tls_key: &std::path::Path,
        stored: Option<pb::Manifest>,
    ) -> Result<Federation, String> {
        let ca_der = crate::secretariat::read_cert_pem(&settings.ca).map_err(|e| e.to_string())?;
        let ca = CaKey::from_cert_der(&ca_der)?;
        let from_file = crate::secretariat::read_manifest(&settings.manifest, &ca)
            .map_err(|e| e.to_string())?;
        let mut trusted = from_file;
        if let Some(m) = stored {
            match Trusted::verify(m, &ca) {
                Ok(s) if s.version() > trusted.version() => trusted = s,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(cause = %e, "stored manifest refused; using the installed file")
                }
            }
        }
        let identity = load_identity(settings, tls_key)?;
        let named = tls::agency_of(&identity.cert)?;
        if named != agency {
            return Err(format!(
                "{} names agency {named}, but this node is {agency}",
                settings.cert.display()
            ));
        }
        // The certificate must belong to our TLS key.
        tls::server_config(
            &identity,
            &ca.cert_der,
            Arc::new(RwLock::new(Arc::new(trusted.clone()))),
        )?;
        if let Err(e) = trusted.check_cert(agency, &identity.cert, crate::now_ms()) {
            tracing::warn!(cause = %e, "this node's certificate is not in force in the manifest; peers will refuse it");
        }
        let (changed, _) = watch::channel(trusted.version());
        Ok(Federation {
            agency: agency.to_string(),
            ca,
            identity,
            manifest: Arc::new(RwLock::new(Arc::new(trusted))),
            changed,
            peers: Mutex::new(BTreeMap::new()),
            settings: settings.clone(),
            sync: watch::channel(0).0,
            verify: watch::channel(0).0,
            outbox: Mutex::new(BTreeMap::new()),
            wire: Mutex::new(BTreeMap::new()),
            closing: watch::channel(false).0,
            in_flight: Arc::default(),
        })
    }

    /// The records pulls have received in full and not stored yet.
    pub fn in_flight(&self) -> &Arc<InFlight> {
        &self.in_flight
    }

    /// The settings.
    pub fn settings(&self) -> &FederationSettings {
        &self.settings
    }

    /// The CA.
    pub fn ca(&self) -> &CaKey {
        &self.ca
    }

    /// The manifest in force.
    pub fn current(&self) -> Arc<Trusted> {
        match self.manifest.read() {
            Ok(m) => m.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Notified with the version whenever a new manifest is in force.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Puts a verified, newer manifest in force (the caller persisted it).
    pub(crate) fn put_in_force(&self, t: Trusted) {
        let v = t.version();
        match self.manifest.write() {
            Ok(mut m) => *m = Arc::new(t),
            Err(p) => *p.into_inner() = Arc::new(t),
        }
        self.changed.send_replace(v);
    }

    /// The TLS configuration of the Federation listener.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, String> {
        tls::server_config(&self.identity, &self.ca.cert_der, self.manifest.clone())
    }

    /// The TLS configuration for dialling `agency`: its certificate must
    /// name that agency and be the one the manifest in force lists.
    pub fn client_config(&self, agency: &str) -> Result<Arc<rustls::ClientConfig>, String> {
        tls::client_config(
            &self.identity,
            &self.ca.cert_der,
            self.manifest.clone(),
            agency,
        )
    }

    /// The byte counters of the connections this node dials to `agency`.
    pub fn wire_count(&self, agency: &str) -> Arc<WireCount> {
        match self.wire.lock() {
            Ok(mut m) => m.entry(agency.to_string()).or_default().clone(),
            Err(_) => Arc::new(WireCount::default()),
        }
    }

    /// Updates a peer's visible state.
    pub fn peer_update(&self, agency: &str, f: impl FnOnce(&mut pb::PeerState)) {
        if let Ok(mut peers) = self.peers.lock() {
            let p = peers
                .entry(agency.to_string())
                .or_insert_with(|| pb::PeerState {
                    agency: agency.to_string(),
                    ..Default::default()
                });
            f(p);
        }
    }

    /// This node's sharing policy towards `peer`.
    pub fn policy_for(&self, peer: &str) -> &crate::policy::PeerPolicy {
        self.settings
            .share
            .get(peer)
            .unwrap_or(&self.settings.default_share)
    }

    /// Ends every open Pull stream: the node is shutting down.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Turns true when the node shuts down.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Wakes every peer link to pull now.
    pub fn sync_now(&self) {
        self.sync.send_modify(|g| *g += 1);
    }

    /// Asks every peer link to run the completeness check now.
    pub fn verify_now(&self) {
        self.verify.send_modify(|g| *g += 1);
    }

    /// Changes when a completeness check is requested.
    pub fn verify_requested(&self) -> watch::Receiver<u64> {
        self.verify.subscribe()
    }

    /// Notified when receipts are queued for `peer`.
    pub fn outbox_signal(&self, peer: &str) -> Arc<tokio::sync::Notify> {
        match self.outbox.lock() {
            Ok(mut m) => m.entry(peer.to_string()).or_default().clone(),
            Err(_) => Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Changes when a sync is requested (never missed: a generation).
    pub fn sync_requested(&self) -> watch::Receiver<u64> {
        self.sync.subscribe()
    }

    /// Every peer's state.
    pub fn peer_states(&self) -> Vec<pb::PeerState> {
        self.peers
            .lock()
            .map(|p| p.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The agencies this node dials under the manifest in force.
    pub fn wanted_peers(&self) -> Vec<(String, String)> {
        let m = self.current();
        let now = crate::now_ms();
        m.body()
            .agencies
            .iter()
            .filter(|a| a.id != self.agency)
            .filter(|a| a.revoked_at == 0 || a.revoked_at > now)
            .filter(|a| {
                self.settings
                    .peers
                    .as_ref()
                    .is_none_or(|p| p.contains(&a.id))
            })
            .map(|a| (a.id.clone(), a.address.clone()))
            .collect()
    }
}
