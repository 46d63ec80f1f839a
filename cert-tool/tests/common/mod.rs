//! Helpers shared by the integration tests: run the binary, read certificates with x509-parser.

#![allow(dead_code)] // each test file uses its own subset

use std::path::Path;
use std::process::{Command, Output};

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY};
use x509_parser::pem::Pem;

pub const SUBJECT_PREFIX: &str = "C=US, ST=Test, L=Test, O=Test Organization, CN=";

/// Runs `cert-tool args...` in `dir`.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cert-tool"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("cert-tool runs")
}

/// Runs `cert-tool args...` in `dir`, asserts success and returns its stdout.
pub fn run_ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "cert-tool {args:?} failed ({}):\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );
    assert!(
        stderr.contains("testing only"),
        "no test-only warning for {args:?}: {stderr}"
    );
    stdout
}

/// Runs `cert-tool args...` in `dir`, asserts failure and returns (exit code, stderr).
pub fn run_err(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = run(dir, args);
    assert!(!out.status.success(), "cert-tool {args:?} should fail");
    (
        out.status.code().expect("exited, not killed"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The first PEM block of a file.
pub fn read_pem(path: &Path) -> Pem {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut blocks = Pem::iter_from_buffer(&data);
    blocks
        .next()
        .unwrap_or_else(|| panic!("{}: no PEM block", path.display()))
        .expect("valid PEM")
}

/// Parses a certificate PEM block; asserts it is the whole block.
pub fn cert(pem: &Pem) -> X509Certificate<'_> {
    assert_eq!(pem.label, "CERTIFICATE");
    let (rest, cert) = x509_parser::parse_x509_certificate(&pem.contents).expect("certificate");
    assert!(rest.is_empty());
    cert
}

/// The common name of the subject.
pub fn common_name(cert: &X509Certificate<'_>) -> String {
    cert.subject()
        .iter_common_name()
        .next()
        .expect("a CN")
        .as_str()
        .expect("CN is a string")
        .to_owned()
}

/// Asserts the public key is an EC P-256 key.
pub fn assert_p256(cert: &X509Certificate<'_>) {
    let spki = cert.public_key();
    assert_eq!(spki.algorithm.algorithm, OID_KEY_TYPE_EC_PUBLIC_KEY);
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .expect("curve parameter")
        .as_oid()
        .expect("named curve");
    assert_eq!(curve, OID_EC_P256);
    assert_eq!(
        spki.subject_public_key.data.len(),
        65,
        "uncompressed P-256 point"
    );
}

/// Asserts `cert` is a CA certificate (BasicConstraints CA:TRUE, critical).
pub fn assert_ca(cert: &X509Certificate<'_>) {
    let bc = cert.basic_constraints().unwrap().expect("BasicConstraints");
    assert!(bc.critical, "BasicConstraints is critical");
    assert!(bc.value.ca, "CA:TRUE");
    let ku = cert.key_usage().unwrap().expect("KeyUsage");
    assert!(ku.value.key_cert_sign());
}

/// Asserts `cert` is a device certificate: CA:FALSE (critical), EKU clientAuth, KeyUsage
/// digitalSignature + keyEncipherment (critical), a subject key identifier, and an authority key
/// identifier equal to `issuer`'s subject key identifier (if given).
pub fn assert_client(cert: &X509Certificate<'_>, issuer: Option<&X509Certificate<'_>>) {
    let bc = cert.basic_constraints().unwrap().expect("BasicConstraints");
    assert!(bc.critical, "BasicConstraints is critical");
    assert!(!bc.value.ca, "CA:FALSE");
    assert!(!cert.is_ca());

    let eku = cert
        .extended_key_usage()
        .unwrap()
        .expect("ExtendedKeyUsage");
    assert!(eku.value.client_auth, "EKU clientAuth");
    assert!(!eku.value.server_auth);

    let ku = cert.key_usage().unwrap().expect("KeyUsage");
    assert!(ku.critical, "KeyUsage is critical");
    assert!(ku.value.digital_signature());
    assert!(ku.value.key_encipherment());
    assert!(!ku.value.key_cert_sign());

    let ski = subject_key_id(cert).expect("SubjectKeyIdentifier");
    assert!(!ski.is_empty());
    if let Some(issuer) = issuer {
        let aki = cert
            .iter_extensions()
            .find_map(|ext| match ext.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(aki) => aki.key_identifier.as_ref(),
                _ => None,
            })
            .expect("AuthorityKeyIdentifier");
        assert_eq!(Some(aki.0), subject_key_id(issuer), "AKI = issuer's SKI");
    }
}

pub fn subject_key_id<'a>(cert: &'a X509Certificate<'_>) -> Option<&'a [u8]> {
    cert.iter_extensions()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(ski) => Some(ski.0),
            _ => None,
        })
}

/// Asserts `cert` is issued by `issuer`: names match and the signature verifies.
pub fn assert_issued_by(cert: &X509Certificate<'_>, issuer: &X509Certificate<'_>) {
    assert_eq!(cert.issuer().as_raw(), issuer.subject().as_raw());
    cert.verify_signature(Some(issuer.public_key()))
        .expect("signature verifies with the issuer's key");
}

/// Asserts validity is exactly 365 days starting within a minute of now.
pub fn assert_valid_for_a_year(cert: &X509Certificate<'_>) {
    let validity = cert.validity();
    let not_before = validity.not_before.timestamp();
    let not_after = validity.not_after.timestamp();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - not_before).abs() < 60, "not before is now");
    assert_eq!(not_after - not_before, 365 * 24 * 3600);
}

/// Asserts the private key in `key_path` is a PKCS#8 P-256 key whose public key is `cert`'s.
pub fn assert_key_matches(key_path: &Path, cert: &X509Certificate<'_>) {
    let pem = std::fs::read_to_string(key_path).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8 PEM");
    let key = rcgen::KeyPair::from_pem(&pem).expect("key parses");
    assert_eq!(key.algorithm(), &rcgen::PKCS_ECDSA_P256_SHA256);
    use rcgen::PublicKeyData;
    assert_eq!(key.subject_public_key_info(), cert.public_key().raw);
}
