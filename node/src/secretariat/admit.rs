//! Admission: the secretariat checks an agency's request (both proofs of
//! possession, the CSR's key), issues its TLS certificate, and adds the
//! agency — or, with `rotate`, its new keys — to the manifest.

use std::fs;

use prost::Message;
use wildnet_proto::v1 as pb;

use super::{
    ISSUED, Secretariat, SecretariatError, cert_sha256, host_of, io, now_ms, offset, refused,
    write_file,
};
use crate::record::AgencyId;

impl Secretariat {
    /// Admits an agency from its admission request: checks both proofs of
    /// possession and the CSR, issues its TLS certificate for `address`,
    /// adds it to the manifest. `rotate` replaces the keys of an agency
    /// already admitted (old certificate revoked now, old signing key
    /// revoked for records created from now).
    pub fn admit(
        &mut self,
        request: &[u8],
        address: &str,
        contact: &str,
        rotate: bool,
        days: u32,
    ) -> Result<(String, Vec<u8>), SecretariatError> {
        let (body, id, csr) = checked(request)?;
        let (der, pem) = self.issue(&id, &body, csr, address, days)?;
        let now = now_ms();
        let mut m = self.trusted.body().clone();
        let new_cert = pb::ManifestCert {
            sha256: cert_sha256(&der),
            der: der.clone(),
            added_at: now,
            revoked_at: 0,
        };
        let new_key = pb::ManifestSigningKey {
            public_key: body.signing_public_key.clone(),
            added_at: now,
            revoked_at: 0,
        };
        match m.agencies.iter_mut().find(|a| a.id == id.as_str()) {
            Some(_) if !rotate => {
                return Err(refused(format!(
                    "{id} is already admitted (with its own keys): pass --rotate to replace its keys with this request's"
                )));
            }
            Some(a) => {
                rotate_keys(a, new_cert, new_key, now)?;
                a.address = address.to_string();
                if !contact.is_empty() {
                    a.contact = contact.to_string();
                }
            }
            None => m.agencies.push(pb::ManifestAgency {
                id: id.to_string(),
                name: body.name.clone(),
                country: body.country.clone(),
                contact: contact.to_string(),
                address: address.to_string(),
                certs: vec![new_cert],
                signing_keys: vec![new_key],
                revoked_at: 0,
            }),
        }
        self.publish(m)?;
        let path = self.dir.join(crate::layout::issued_cert(id.as_str()));
        fs::create_dir_all(self.dir.join(ISSUED)).map_err(io(&self.dir))?;
        write_file(&path, pem.as_bytes(), 0o644, false)?;
        Ok((id.to_string(), der))
    }

    /// Issues the agency's TLS certificate (DER, PEM) for the CSR's key:
    /// the agency URI and the address's host as names, server and client
    /// authentication, valid from an hour ago for `days`.
    fn issue(
        &self,
        id: &AgencyId,
        body: &pb::AdmissionRequestBody,
        csr: rcgen::CertificateSigningRequestParams,
        address: &str,
        days: u32,
    ) -> Result<(Vec<u8>, String), SecretariatError> {
        let host = host_of(address)?
            .trim_start_matches('[')
            .trim_end_matches(']');
        let mut params = crate::membership::tls::agency_params(id.as_str(), &body.name)
            .map_err(|e| refused(e.to_string()))?;
        let host_san = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => rcgen::SanType::IpAddress(ip),
            Err(_) => rcgen::SanType::DnsName(
                host.try_into()
                    .map_err(|e: rcgen::Error| refused(e.to_string()))?,
            ),
        };
        params.subject_alt_names.push(host_san);
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        params.not_before = offset(now_ms() - 3_600_000);
        params.not_after = offset(now_ms() + i64::from(days.max(1)) * 86_400_000);
        let csr = rcgen::CertificateSigningRequestParams {
            params,
            public_key: csr.public_key,
        };
        let issuer =
            rcgen::Issuer::from_ca_cert_der(&self.ca.cert_der.clone().into(), &self.ca_key)
                .map_err(|e| refused(e.to_string()))?;
        let cert = csr.signed_by(&issuer).map_err(|e| refused(e.to_string()))?;
        Ok((cert.der().to_vec(), cert.pem()))
    }
}

/// Decodes and verifies an admission request: both proofs of possession,
/// the agency id, and a CSR for the very TLS key that signed it.
fn checked(
    request: &[u8],
) -> Result<
    (
        pb::AdmissionRequestBody,
        AgencyId,
        rcgen::CertificateSigningRequestParams,
    ),
    SecretariatError,
> {
    let req = pb::AdmissionRequest::decode(request)
        .map_err(|e| refused(format!("not an admission request: {e}")))?;
    let body = crate::membership::admission::verify(&req).map_err(|e| refused(e.to_string()))?;
    let id: AgencyId = body
        .agency
        .parse()
        .map_err(|e: crate::record::IdError| refused(e.to_string()))?;
    let csr = rcgen::CertificateSigningRequestParams::from_der(&body.csr_der.clone().into())
        .map_err(|e| refused(format!("the CSR does not verify: {e}")))?;
    if rcgen::PublicKeyData::der_bytes(&csr.public_key) != body.tls_public_key.as_slice() {
        return Err(refused(
            "the CSR's key is not the TLS key that signed the request",
        ));
    }
    Ok((body, id, csr))
}

/// A rotation: every certificate in force and every other signing key is
/// revoked now; the new certificate (and key, unless it is the same) is
/// added. A signing key revoked before cannot come back.
fn rotate_keys(
    a: &mut pb::ManifestAgency,
    new_cert: pb::ManifestCert,
    new_key: pb::ManifestSigningKey,
    now: i64,
) -> Result<(), SecretariatError> {
    let same = |k: &pb::ManifestSigningKey| k.public_key == new_key.public_key;
    if a.signing_keys.iter().any(|k| same(k) && k.revoked_at != 0) {
        return Err(refused(
            "this signing key was revoked: a rotation needs a new key (run `wildnet init` in a new dir)",
        ));
    }
    for c in &mut a.certs {
        if c.revoked_at == 0 {
            c.revoked_at = now;
        }
    }
    for k in &mut a.signing_keys {
        if k.revoked_at == 0 && !same(k) {
            k.revoked_at = now;
        }
    }
    a.certs.push(new_cert);
    if !a.signing_keys.iter().any(same) {
        a.signing_keys.push(new_key);
    }
    Ok(())
}
