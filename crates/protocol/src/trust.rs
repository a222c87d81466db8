//! Trust decisions without I/O: parse PEM bundles and check that a manager's signing certificate
//! was issued by a certificate of the device's trust pool, is valid now, is meant for signing
//! licensing responses, and carries an Ed25519 key.

use ed25519_dalek::VerifyingKey;
use x509_parser::prelude::*;

/// Extended key usage that marks a certificate as a smartlic response-signing certificate
/// (an arc below the StarOS enterprise number that the SNMP traps also use).
pub const RESPONSE_SIGNING_EKU: &[u64] = &[1, 3, 6, 1, 4, 1, 8164, 100, 1];
const RESPONSE_SIGNING_EKU_TEXT: &str = "1.3.6.1.4.1.8164.100.1";
const ED25519_OID_TEXT: &str = "1.3.101.112";

/// Why a certificate is not trusted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TrustError {
    /// The PEM/DER did not parse.
    #[error("certificate does not parse: {0}")]
    Parse(String),
    /// No certificate of the trust pool issued it.
    #[error("certificate issued by \"{issuer}\" is not signed by any certificate in the trust pool")]
    UntrustedIssuer {
        /// The issuer name of the refused certificate.
        issuer: String,
    },
    /// Outside its validity period.
    #[error("certificate is not valid at this time (valid {not_before} to {not_after})")]
    Expired {
        /// Start of validity.
        not_before: String,
        /// End of validity.
        not_after: String,
    },
    /// Not a response-signing certificate or not an Ed25519 key.
    #[error("certificate is not a licensing response-signing certificate: {0}")]
    WrongPurpose(String),
}

/// Splits a PEM bundle into DER certificates. Non-certificate blocks are ignored.
pub fn pem_certificates(pem_text: &str) -> Result<Vec<Vec<u8>>, TrustError> {
    let mut out = Vec::new();
    for pem in Pem::iter_from_buffer(pem_text.as_bytes()) {
        let pem = pem.map_err(|e| TrustError::Parse(e.to_string()))?;
        if pem.label == "CERTIFICATE" {
            parse_x509_certificate(&pem.contents).map_err(|e| TrustError::Parse(e.to_string()))?;
            out.push(pem.contents);
        }
    }
    Ok(out)
}

/// Summary of a certificate for `show crypto pki trustpool`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSummary {
    /// Subject DN.
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// Serial number (hex).
    pub serial: String,
    /// Start of validity (epoch seconds).
    pub not_before: i64,
    /// End of validity (epoch seconds).
    pub not_after: i64,
    /// SHA-256 fingerprint (hex).
    pub fingerprint: String,
}

/// Describes a DER certificate.
pub fn summarize(der: &[u8]) -> Result<CertSummary, TrustError> {
    use sha2::Digest;
    let (_, c) = parse_x509_certificate(der).map_err(|e| TrustError::Parse(e.to_string()))?;
    let fp = sha2::Sha256::digest(der);
    Ok(CertSummary {
        subject: c.subject().to_string(),
        issuer: c.issuer().to_string(),
        serial: c.raw_serial_as_string(),
        not_before: c.validity().not_before.timestamp(),
        not_after: c.validity().not_after.timestamp(),
        fingerprint: fp.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":"),
    })
}

/// Checks a signing certificate (PEM) against trust anchors (DER) at time `now` and returns its
/// Ed25519 key.
pub fn verify_signer(signer_pem: &str, anchors: &[Vec<u8>], now: i64) -> Result<VerifyingKey, TrustError> {
    verify_signer_window(signer_pem, anchors, now).map(|v| v.key)
}

/// A signer checked by [`verify_signer`]: its key, and the time window in which that check gives
/// the same answer (the certificate's validity within the issuing anchor's).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Verified {
    key: VerifyingKey,
    not_before: i64,
    not_after: i64,
}

/// Signers already checked against a trust pool, so that a client receiving many answers signed
/// by the same certificate checks its issuer's signature (an ECDSA verification, a third of a
/// load generator's CPU in `bench fleet`'s profile) once. An entry is used only for the same
/// certificate text and the same anchors (their DER, byte for byte), and only within the validity
/// window it was checked for; anything else takes the full [`verify_signer`] path.
#[derive(Debug, Default)]
pub struct SignerCache {
    entries: std::sync::Mutex<Vec<Checked>>,
}

/// One entry of a [`SignerCache`]: a signer certificate (PEM), the anchors it was checked
/// against (DER) and what that check found.
#[derive(Debug)]
struct Checked {
    pem: String,
    anchors: Vec<Vec<u8>>,
    verified: Verified,
}

/// Most signers a [`SignerCache`] keeps (a manager has one at a time, a rotation two).
const SIGNER_CACHE_SIZE: usize = 4;

impl SignerCache {
    /// An empty cache.
    pub fn new() -> SignerCache {
        SignerCache::default()
    }

    /// [`verify_signer`], answered from the cache when this certificate was checked against these
    /// anchors before and `now` is within the window of that check.
    pub fn verify(&self, signer_pem: &str, anchors: &[Vec<u8>], now: i64) -> Result<VerifyingKey, TrustError> {
        let lock = || self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let hit = lock()
            .iter()
            .find(|c| {
                c.pem == signer_pem
                    && c.anchors == anchors
                    && (c.verified.not_before..=c.verified.not_after).contains(&now)
            })
            .map(|c| c.verified.key);
        if let Some(key) = hit {
            return Ok(key);
        }
        let verified = verify_signer_window(signer_pem, anchors, now)?;
        let key = verified.key;
        let mut entries = lock();
        entries.retain(|c| !(c.pem == signer_pem && c.anchors == anchors));
        if entries.len() >= SIGNER_CACHE_SIZE {
            entries.remove(0);
        }
        entries.push(Checked {
            pem: signer_pem.to_string(),
            anchors: anchors.to_vec(),
            verified,
        });
        Ok(key)
    }
}

fn verify_signer_window(signer_pem: &str, anchors: &[Vec<u8>], now: i64) -> Result<Verified, TrustError> {
    let ders = pem_certificates(signer_pem)?;
    let der = ders
        .first()
        .ok_or_else(|| TrustError::Parse("no certificate in signer PEM".into()))?;
    let (_, cert) = parse_x509_certificate(der).map_err(|e| TrustError::Parse(e.to_string()))?;
    let at = ASN1Time::from_timestamp(now).map_err(|e| TrustError::Parse(e.to_string()))?;
    if !cert.validity().is_valid_at(at) {
        return Err(TrustError::Expired {
            not_before: crate::time::format_cisco(cert.validity().not_before.timestamp()),
            not_after: crate::time::format_cisco(cert.validity().not_after.timestamp()),
        });
    }
    // The window of the first anchor that issued it: the certificate's validity within the anchor's.
    let issued_by_anchor = anchors.iter().find_map(|a| {
        let (_, anchor) = parse_x509_certificate(a).ok()?;
        (anchor.subject() == cert.issuer()
            && anchor.validity().is_valid_at(at)
            && cert.verify_signature(Some(anchor.public_key())).is_ok())
        .then(|| {
            (
                cert.validity()
                    .not_before
                    .timestamp()
                    .max(anchor.validity().not_before.timestamp()),
                cert.validity()
                    .not_after
                    .timestamp()
                    .min(anchor.validity().not_after.timestamp()),
            )
        })
    });
    let Some((not_before, not_after)) = issued_by_anchor else {
        return Err(TrustError::UntrustedIssuer {
            issuer: cert.issuer().to_string(),
        });
    };
    let eku_ok = cert
        .extended_key_usage()
        .ok()
        .flatten()
        .map(|e| {
            e.value
                .other
                .iter()
                .any(|o| o.to_id_string() == RESPONSE_SIGNING_EKU_TEXT)
        })
        .unwrap_or(false);
    if !eku_ok {
        return Err(TrustError::WrongPurpose(
            "missing the response-signing extended key usage".into(),
        ));
    }
    let spki = cert.public_key();
    if spki.algorithm.algorithm.to_id_string() != ED25519_OID_TEXT {
        return Err(TrustError::WrongPurpose("key is not Ed25519".into()));
    }
    let raw: [u8; 32] = spki
        .subject_public_key
        .data
        .as_ref()
        .try_into()
        .map_err(|_| TrustError::WrongPurpose("Ed25519 key has the wrong length".into()))?;
    let key = VerifyingKey::from_bytes(&raw).map_err(|_| TrustError::WrongPurpose("invalid Ed25519 key".into()))?;
    Ok(Verified {
        key,
        not_before,
        not_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, PKCS_ECDSA_P256_SHA256,
        PKCS_ED25519,
    };

    fn ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, name);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = p.self_signed(&key).unwrap();
        (cert.pem(), Issuer::new(p, key))
    }

    fn signer(issuer: &Issuer<'_, KeyPair>, eku: bool) -> (String, KeyPair) {
        let key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, "signer");
        if eku {
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::Other(RESPONSE_SIGNING_EKU.to_vec())];
        }
        (p.signed_by(&key, issuer).unwrap().pem(), key)
    }

    #[test]
    fn signer_chains_to_anchor() {
        let (ca_pem, issuer) = ca("root");
        let (other_pem, _) = ca("other");
        let (s_pem, s_key) = signer(&issuer, true);
        let anchors = pem_certificates(&ca_pem).unwrap();
        let now = crate::time::parse_rfc3339("2027-01-01T00:00:00Z").unwrap();
        let vk = verify_signer(&s_pem, &anchors, now).unwrap();
        assert_eq!(&vk.as_bytes()[..], s_key.public_key_raw());

        let wrong = pem_certificates(&other_pem).unwrap();
        assert!(matches!(
            verify_signer(&s_pem, &wrong, now),
            Err(TrustError::UntrustedIssuer { .. })
        ));
        assert!(matches!(
            verify_signer(&s_pem, &[], now),
            Err(TrustError::UntrustedIssuer { .. })
        ));

        let far = crate::time::parse_rfc3339("4100-01-01T00:00:00Z").unwrap();
        assert!(matches!(
            verify_signer(&s_pem, &anchors, far),
            Err(TrustError::Expired { .. })
        ));

        let (no_eku, _) = signer(&issuer, false);
        assert!(matches!(
            verify_signer(&no_eku, &anchors, now),
            Err(TrustError::WrongPurpose(_))
        ));
        assert!(verify_signer("garbage", &anchors, now).is_err());
        let s = summarize(&anchors[0]).unwrap();
        assert!(s.subject.contains("root"));
    }

    /// The cache answers as `verify_signer` does: for the same certificate, anchors and a time
    /// inside the window checked; another pool, a later time past the anchor's end, another
    /// certificate go the full way and are refused as it refuses them.
    #[test]
    fn signer_cache_answers_as_the_full_check() {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, "short-lived root");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.not_after = rcgen::date_time_ymd(2030, 1, 1);
        let ca_pem = p.self_signed(&key).unwrap().pem();
        let issuer = Issuer::new(p, key);
        let (s_pem, s_key) = signer(&issuer, true);
        let anchors = pem_certificates(&ca_pem).unwrap();
        let (other_pem, _) = ca("other");
        let wrong = pem_certificates(&other_pem).unwrap();
        let now = crate::time::parse_rfc3339("2027-01-01T00:00:00Z").unwrap();
        let later = crate::time::parse_rfc3339("2031-01-01T00:00:00Z").unwrap();

        let cache = SignerCache::new();
        for _ in 0..3 {
            let vk = cache.verify(&s_pem, &anchors, now).unwrap();
            assert_eq!(&vk.as_bytes()[..], s_key.public_key_raw());
        }
        assert!(matches!(
            cache.verify(&s_pem, &wrong, now),
            Err(TrustError::UntrustedIssuer { .. })
        ));
        // The signer is valid until 4096, its anchor until 2030: the window ends with the anchor.
        assert_eq!(
            verify_signer(&s_pem, &anchors, later).err(),
            cache.verify(&s_pem, &anchors, later).err()
        );
        assert!(cache.verify(&s_pem, &anchors, later).is_err());
        let (no_eku, _) = signer(&issuer, false);
        assert!(matches!(
            cache.verify(&no_eku, &anchors, now),
            Err(TrustError::WrongPurpose(_))
        ));
        // Many signers: the oldest make room, each still answered right.
        let others: Vec<String> = (0..6).map(|_| signer(&issuer, true).0).collect();
        for pem in others.iter().chain(std::iter::once(&s_pem)) {
            assert_eq!(
                cache.verify(pem, &anchors, now).ok(),
                verify_signer(pem, &anchors, now).ok()
            );
        }
    }
}
