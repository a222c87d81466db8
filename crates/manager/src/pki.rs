//! The manager's PKI: a root CA (ECDSA P-256, so browsers accept the TLS chain), an Ed25519
//! response-signing key whose certificate the CA issues with the response-signing extended key
//! usage, device ID certificates for devices' Ed25519 keys, and per-server TLS certificates.
//!
//! Two clocks meet here. Device ID certificates follow the licensing clock (they are checked by
//! agents against it). TLS certificates are checked by rustls and browsers against the wall
//! clock, so the TLS leaf follows [`SystemClock`]. The CA and signing certificates are checked
//! against both, so their validity spans both clocks with a year of margin on each side (a test
//! clock may move back, or start far from the wall clock).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{SigningKey, VerifyingKey};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType, SerialNumber, SubjectPublicKeyInfo,
};
use smartlic_clock::{Clock, SystemClock};
use smartlic_protocol::envelope::ed25519_spki_der;
use smartlic_protocol::time::{DAY, ID_CERT_VALIDITY};
use smartlic_protocol::trust::RESPONSE_SIGNING_EKU;
use std::net::IpAddr;
use x509_parser::prelude::*;

use crate::store::PkiRow;

/// Validity of the root CA and the signing certificate after creation.
pub(crate) const CA_VALIDITY: i64 = 20 * 365 * DAY;
/// Margin before "now" of CA and signing certificates.
pub(crate) const BACKDATE: i64 = 365 * DAY;
/// Validity of a TLS leaf (within what every browser accepts).
pub(crate) const TLS_VALIDITY: i64 = 397 * DAY;
/// A TLS leaf with less than this left is replaced at start.
pub(crate) const TLS_RENEW_BEFORE: i64 = 30 * DAY;

/// Why a certificate or key could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// rcgen refused.
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// Stored material is damaged.
    #[error("stored PKI material is invalid: {0}")]
    Invalid(String),
}

/// The PKI in memory.
#[derive(Debug)]
pub struct Pki {
    ca_cert_pem: String,
    ca_der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
    signing_key: SigningKey,
    signing_cert_pem: String,
}

fn at(ts: i64) -> Result<::time::OffsetDateTime, PkiError> {
    ::time::OffsetDateTime::from_unix_timestamp(ts).map_err(|e| PkiError::Invalid(format!("time {ts}: {e}")))
}

fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    SerialNumber::from_slice(&bytes)
}

fn first_der(pem_text: &str) -> Result<Vec<u8>, PkiError> {
    smartlic_protocol::trust::pem_certificates(pem_text)
        .map_err(|e| PkiError::Invalid(e.to_string()))?
        .into_iter()
        .next()
        .ok_or_else(|| PkiError::Invalid("no certificate in PEM".into()))
}

impl Pki {
    /// Makes a new CA and signing key. `now` is the licensing clock; the wall clock is read too.
    pub fn generate(now: i64) -> Result<PkiRow, PkiError> {
        let wall = SystemClock.now();
        let not_before = now.min(wall) - BACKDATE;
        let not_after = now.max(wall) + CA_VALIDITY;

        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut ca = CertificateParams::default();
        let tag: [u8; 4] = rand::random();
        ca.distinguished_name = DistinguishedName::new();
        ca.distinguished_name
            .push(DnType::CommonName, format!("smartlic Root CA {}", hex::encode(tag)));
        ca.distinguished_name.push(DnType::OrganizationName, "smartlic");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        ca.not_before = at(not_before)?;
        ca.not_after = at(not_after)?;
        ca.serial_number = Some(random_serial());
        let ca_cert = ca.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca, ca_key);

        let seed: [u8; 32] = rand::random();
        let signing_key = SigningKey::from_bytes(&seed);
        let signing_cert = signer_certificate(&issuer, &signing_key.verifying_key(), not_before, not_after)?;
        Ok(PkiRow {
            ca_cert_pem: ca_cert.pem(),
            ca_key_pem: issuer.key().serialize_pem(),
            signing_cert_pem: signing_cert,
            signing_key: B64.encode(seed),
            created_at: now,
        })
    }

    /// Loads the PKI from its stored form.
    pub fn from_row(row: &PkiRow) -> Result<Pki, PkiError> {
        let ca_key = KeyPair::from_pem(&row.ca_key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(&row.ca_cert_pem, ca_key)?;
        let seed: [u8; 32] = B64
            .decode(row.signing_key.trim())
            .map_err(|e| PkiError::Invalid(format!("signing key: {e}")))?
            .try_into()
            .map_err(|_| PkiError::Invalid("signing key is not 32 bytes".into()))?;
        Ok(Pki {
            ca_der: first_der(&row.ca_cert_pem)?,
            ca_cert_pem: row.ca_cert_pem.clone(),
            issuer,
            signing_key: SigningKey::from_bytes(&seed),
            signing_cert_pem: row.signing_cert_pem.clone(),
        })
    }

    /// The root CA certificate (PEM): the trust anchor devices import (`ca.pem`).
    pub fn ca_pem(&self) -> &str {
        &self.ca_cert_pem
    }

    /// The response-signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing_key
    }

    /// The response-signing certificate (PEM) sent with every response.
    pub fn signer_pem(&self) -> &str {
        &self.signing_cert_pem
    }

    /// Issues a device ID certificate for `key`: CN = instance id, valid `now` → now + 365 days.
    pub fn issue_device_certificate(
        &self,
        instance_id: &str,
        key: &VerifyingKey,
        now: i64,
    ) -> Result<(String, i64), PkiError> {
        let expires = now + ID_CERT_VALIDITY;
        let mut p = CertificateParams::default();
        p.distinguished_name = DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, instance_id);
        p.distinguished_name
            .push(DnType::OrganizationName, "smartlic product instance");
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.not_before = at(now)?;
        p.not_after = at(expires)?;
        p.serial_number = Some(random_serial());
        let spki = SubjectPublicKeyInfo::from_der(&ed25519_spki_der(key))?;
        Ok((p.signed_by(&spki, &self.issuer)?.pem(), expires))
    }

    /// Makes a TLS server certificate for `host`, the extra names `sans` (`--tls-san`: DNS names
    /// or IP addresses) and `localhost`, `127.0.0.1`, `::1`, valid from a day ago by the wall
    /// clock. Returns (leaf + CA chain PEM, leaf key PKCS#8 PEM).
    pub fn issue_tls(&self, host: &str, sans: &[String]) -> Result<(String, String), PkiError> {
        let wall = SystemClock.now();
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let names = tls_names(host, sans);
        let mut p = CertificateParams::new(names)?;
        p.distinguished_name = DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, host);
        p.distinguished_name
            .push(DnType::OrganizationName, "smartlic license manager");
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.not_before = at(wall - DAY)?;
        p.not_after = at(wall + TLS_VALIDITY)?;
        p.serial_number = Some(random_serial());
        let leaf = p.signed_by(&key, &self.issuer)?;
        Ok((format!("{}{}", leaf.pem(), self.ca_cert_pem), key.serialize_pem()))
    }

    /// Whether a stored TLS chain can be reused for `host` and `sans`: issued by this CA, naming
    /// each of them, and valid for at least [`TLS_RENEW_BEFORE`] more by the wall clock.
    pub fn tls_reusable(&self, chain_pem: &str, host: &str, sans: &[String]) -> bool {
        let Ok(der) = first_der(chain_pem) else { return false };
        let Ok((_, cert)) = parse_x509_certificate(&der) else {
            return false;
        };
        let Ok((_, ca)) = parse_x509_certificate(&self.ca_der) else {
            return false;
        };
        if cert.verify_signature(Some(ca.public_key())).is_err() {
            return false;
        }
        let wall = SystemClock.now();
        let v = cert.validity();
        if v.not_before.timestamp() > wall || v.not_after.timestamp() - wall < TLS_RENEW_BEFORE {
            return false;
        }
        let names = match cert.subject_alternative_name() {
            Ok(Some(san)) => san.value.general_names.clone(),
            _ => return false,
        };
        tls_names(host, sans).iter().all(|wanted| {
            let ip: Option<IpAddr> = wanted.parse().ok();
            names.iter().any(|n| match (n, ip) {
                (GeneralName::DNSName(d), None) => d.eq_ignore_ascii_case(wanted),
                (GeneralName::IPAddress(b), Some(IpAddr::V4(v4))) => *b == v4.octets().as_slice(),
                (GeneralName::IPAddress(b), Some(IpAddr::V6(v6))) => *b == v6.octets().as_slice(),
                _ => false,
            })
        })
    }
}

/// The names a TLS leaf carries: the listen host (unless it is a wildcard address, which no
/// client connects to by name), the extra names, then the loopback names; without brackets and
/// duplicates.
fn tls_names(host: &str, sans: &[String]) -> Vec<String> {
    let wildcard = |n: &str| n == "0.0.0.0" || n == "::";
    let mut names: Vec<String> = Vec::new();
    let all = std::iter::once(host)
        .chain(sans.iter().map(String::as_str))
        .chain(["localhost", "127.0.0.1", "::1"]);
    for n in all {
        let n = n.trim().trim_start_matches('[').trim_end_matches(']');
        if !n.is_empty() && !wildcard(n) && !names.iter().any(|m| m.eq_ignore_ascii_case(n)) {
            names.push(n.to_string());
        }
    }
    names
}

/// Checks an extra TLS name (`--tls-san`): an IP address or a DNS name (letters, digits, `-`,
/// dots between labels of at most 63 characters, at most 253 in all; a leading `*.` allowed).
pub fn check_tls_san(name: &str) -> Result<(), String> {
    if name.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let dns = name.strip_prefix("*.").unwrap_or(name);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if name.len() <= 253 && dns.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(format!("{name:?} is neither a DNS name nor an IP address"))
    }
}

fn signer_certificate(
    issuer: &Issuer<'_, KeyPair>,
    key: &VerifyingKey,
    not_before: i64,
    not_after: i64,
) -> Result<String, PkiError> {
    let mut p = CertificateParams::default();
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name
        .push(DnType::CommonName, "smartlic license manager response signing");
    p.distinguished_name.push(DnType::OrganizationName, "smartlic");
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::Other(RESPONSE_SIGNING_EKU.to_vec())];
    p.not_before = at(not_before)?;
    p.not_after = at(not_after)?;
    p.serial_number = Some(random_serial());
    p.subject_alt_names = Vec::<SanType>::new();
    let spki = SubjectPublicKeyInfo::from_der(&ed25519_spki_der(key))?;
    Ok(p.signed_by(&spki, issuer)?.pem())
}

#[cfg(test)]
mod tests {
    use super::*;
    use smartlic_protocol::trust::{pem_certificates, verify_signer};

    fn now() -> i64 {
        smartlic_protocol::time::parse_rfc3339("2026-11-28T12:00:00Z").unwrap()
    }

    #[test]
    fn signer_chains_to_the_ca_and_survives_a_round_trip() {
        let row = Pki::generate(now()).unwrap();
        let pki = Pki::from_row(&row).unwrap();
        let anchors = pem_certificates(pki.ca_pem()).unwrap();
        let vk = verify_signer(pki.signer_pem(), &anchors, now()).unwrap();
        assert_eq!(vk, pki.signing_key().verifying_key());
        // Valid a year later and a year earlier by the licensing clock.
        assert!(verify_signer(pki.signer_pem(), &anchors, now() + 365 * DAY).is_ok());
        assert!(verify_signer(pki.signer_pem(), &anchors, now() - 300 * DAY).is_ok());
        // Another installation's CA does not vouch for it.
        let other = Pki::from_row(&Pki::generate(now()).unwrap()).unwrap();
        let foreign = pem_certificates(other.ca_pem()).unwrap();
        assert!(verify_signer(pki.signer_pem(), &foreign, now()).is_err());
        // Reloading gives the same keys.
        let again = Pki::from_row(&row).unwrap();
        assert_eq!(again.signing_key().to_bytes(), pki.signing_key().to_bytes());
        assert_eq!(again.ca_pem(), pki.ca_pem());
    }

    /// Legacy licence keys are signed under the CA: they verify with its certificate alone, and
    /// a changed character, another installation's CA or a truncated text is refused.
    #[test]
    fn legacy_keys_verify_against_the_trust_pool_only() {
        use smartlic_protocol::legacy::{LegacyKey, LegacyKeyError};
        let pki = Pki::from_row(&Pki::generate(now()).unwrap()).unwrap();
        let key = LegacyKey {
            id: "k1".into(),
            serial: "FOX123".into(),
            platform: "ASR5500".into(),
            sessions: [("sgw".to_string(), 20_000u64)].into_iter().collect(),
            features: vec!["ASR5K-00-GN01REC".into()],
            expires_at: Some(now() + 30 * DAY),
            issued_at: now(),
        };
        let text = key.sign(pki.signing_key(), pki.signer_pem()).unwrap();
        assert!(text.starts_with("LK1.") && !text.contains(char::is_whitespace));
        let anchors = pem_certificates(pki.ca_pem()).unwrap();
        let back = LegacyKey::verify(&text, &anchors).unwrap();
        assert_eq!(back, key);
        assert_eq!(back.sessions_for("SGW"), 20_000);
        assert!(back.has_feature("asr5k-00-gn01rec"));
        assert!(!back.expired(now()) && back.expired(now() + 30 * DAY));

        // Every single-character change of the payload or signature is refused.
        let dot = text[4..].find('.').unwrap() + 4;
        for i in [5, dot - 1, dot + 3] {
            let mut altered = text.clone().into_bytes();
            altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(altered).unwrap();
            assert!(LegacyKey::verify(&altered, &anchors).is_err(), "change at {i}");
        }
        let other = Pki::from_row(&Pki::generate(now()).unwrap()).unwrap();
        assert!(matches!(
            LegacyKey::verify(&text, &pem_certificates(other.ca_pem()).unwrap()),
            Err(LegacyKeyError::Untrusted(_))
        ));
        assert!(matches!(
            LegacyKey::verify(&text[..text.len() - 10], &anchors),
            Err(LegacyKeyError::Malformed(_) | LegacyKeyError::Untrusted(_))
        ));
        assert!(matches!(
            LegacyKey::verify("hello", &anchors),
            Err(LegacyKeyError::Malformed(_))
        ));
    }

    #[test]
    fn device_certificates_carry_the_device_key_for_365_days() {
        let pki = Pki::from_row(&Pki::generate(now()).unwrap()).unwrap();
        let dev = SigningKey::from_bytes(&[7; 32]);
        let (pem, expires) = pki
            .issue_device_certificate("inst-1", &dev.verifying_key(), now())
            .unwrap();
        assert_eq!(expires, now() + ID_CERT_VALIDITY);
        let der = first_der(&pem).unwrap();
        let (_, cert) = parse_x509_certificate(&der).unwrap();
        assert_eq!(cert.validity().not_before.timestamp(), now());
        assert_eq!(cert.validity().not_after.timestamp(), expires);
        assert!(cert.subject().to_string().contains("CN=inst-1"));
        assert_eq!(
            cert.public_key().subject_public_key.data.as_ref(),
            dev.verifying_key().as_bytes()
        );
        let (_, ca) = parse_x509_certificate(&pki.ca_der).unwrap();
        assert!(cert.verify_signature(Some(ca.public_key())).is_ok());
    }

    #[test]
    fn extra_tls_names_are_dns_names_or_addresses() {
        for ok in ["licensing.example.net", "*.example.net", "10.0.0.1", "::1", "host-1"] {
            assert_eq!(check_tls_san(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "a b",
            "-x.example",
            "x..example",
            "exa_mple.net",
            "*",
            &"a".repeat(64),
        ] {
            assert!(check_tls_san(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tls_leaf_names_the_host_and_chains_to_the_ca() {
        let pki = Pki::from_row(&Pki::generate(now()).unwrap()).unwrap();
        let (chain, key) = pki.issue_tls("manager.example.net", &[]).unwrap();
        assert!(key.contains("PRIVATE KEY"));
        assert_eq!(pem_certificates(&chain).unwrap().len(), 2);
        assert!(pki.tls_reusable(&chain, "manager.example.net", &[]));
        assert!(pki.tls_reusable(&chain, "localhost", &[]));
        assert!(pki.tls_reusable(&chain, "127.0.0.1", &[]));
        assert!(!pki.tls_reusable(&chain, "10.0.0.1", &[]));
        let other = Pki::from_row(&Pki::generate(now()).unwrap()).unwrap();
        assert!(
            !other.tls_reusable(&chain, "localhost", &[]),
            "another CA's leaf is not reused"
        );
        assert!(!pki.tls_reusable("garbage", "localhost", &[]));
        // A chain without an extra name asked for now is not reused; one with it is.
        let sans = vec!["licensing.example.net".to_string(), "10.0.0.1".to_string()];
        assert!(!pki.tls_reusable(&chain, "manager.example.net", &sans));
        let (with, _) = pki.issue_tls("0.0.0.0", &sans).unwrap();
        assert!(pki.tls_reusable(&with, "0.0.0.0", &sans));
        assert!(pki.tls_reusable(&with, "10.0.0.1", &[]));
        assert!(pki.tls_reusable(&with, "LICENSING.example.net", &[]));
        assert!(!pki.tls_reusable(&with, "other.example.net", &[]));
    }
}
