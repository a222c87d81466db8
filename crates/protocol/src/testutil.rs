//! Test helpers: a license manager's PKI made with rcgen (CA, response-signing key and its
//! certificate), for the codes and files that a manager signs.

use crate::trust::{RESPONSE_SIGNING_EKU, pem_certificates};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, PKCS_ECDSA_P256_SHA256,
    PKCS_ED25519,
};

/// A manager's PKI.
pub(crate) struct TestManager {
    /// The CA certificate (PEM).
    pub(crate) ca_pem: String,
    /// The CA certificate as a trust pool holds it (DER).
    pub(crate) anchors: Vec<Vec<u8>>,
    /// The response-signing key.
    pub(crate) key: SigningKey,
    /// Its certificate, issued by the CA.
    pub(crate) signer_pem: String,
}

/// A new manager PKI whose CA is named `name`.
pub(crate) fn manager(name: &str) -> TestManager {
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(rcgen::DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = p.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(p, ca_key);
    let key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    let mut s = CertificateParams::new(Vec::<String>::new()).unwrap();
    s.distinguished_name.push(rcgen::DnType::CommonName, "signer");
    s.extended_key_usages = vec![ExtendedKeyUsagePurpose::Other(RESPONSE_SIGNING_EKU.to_vec())];
    let signer_pem = s.signed_by(&key, &issuer).unwrap().pem();
    TestManager {
        anchors: pem_certificates(&ca.pem()).unwrap(),
        ca_pem: ca.pem(),
        key: SigningKey::from_pkcs8_der(&key.serialize_der()).unwrap(),
        signer_pem,
    }
}
