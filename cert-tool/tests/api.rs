//! Tests of the library API as other crates use it in-process.

mod common;

use cert_tool::{CaBundle, SUB_CA_COMMON_NAME};
use common::*;
use x509_parser::pem::Pem;

fn pem_of(text: &str) -> Pem {
    Pem::iter_from_buffer(text.as_bytes())
        .next()
        .expect("a PEM block")
        .expect("valid PEM")
}

#[test]
fn device_identity_chains_to_the_root() {
    let root = cert_tool::root_ca().unwrap();
    let sub = cert_tool::sub_ca(&root).unwrap();
    assert_eq!(sub.common_name(), SUB_CA_COMMON_NAME);
    let (cert_pem, key_pem) = cert_tool::device_identity(&sub, "fleet-device-7");

    let (root_pem, sub_pem, leaf_pem) = (
        pem_of(root.cert_pem()),
        pem_of(sub.cert_pem()),
        pem_of(&cert_pem),
    );
    let (root_cert, sub_cert, leaf) = (cert(&root_pem), cert(&sub_pem), cert(&leaf_pem));
    assert_issued_by(&sub_cert, &root_cert);
    assert_issued_by(&leaf, &sub_cert);
    assert_client(&leaf, Some(&sub_cert));
    assert_eq!(common_name(&leaf), "fleet-device-7");
    assert_p256(&leaf);

    let key = rcgen::KeyPair::from_pem(&key_pem).unwrap();
    use rcgen::PublicKeyData;
    assert_eq!(key.subject_public_key_info(), leaf.public_key().raw);
}

#[test]
fn bundles_round_trip_through_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = cert_tool::root_ca().unwrap();
    let cert_path = dir.path().join("nested/root.pem");
    let key_path = dir.path().join("nested/root-key.pem");
    root.save(&cert_path, &key_path).unwrap();
    let loaded = CaBundle::load(&cert_path, &key_path).unwrap();
    assert_eq!(loaded, root);

    // A bundle made by the binary loads too.
    let d = dir.path();
    run_ok(d, &["root_ca"]);
    let from_cli = CaBundle::load(d.join("ca/root-ca-cert.pem"), d.join("ca/root-ca-key.pem"))
        .expect("the binary's root CA loads");
    assert_eq!(
        from_cli.subject(),
        "C=US, ST=Test, L=Test, O=Test Organization, CN=Test Root CA"
    );
    let (cert_pem, _) = cert_tool::device_identity(&from_cli, "d");
    cert_tool::verify_issued_by(&cert_pem, from_cli.cert_pem()).unwrap();
}

#[test]
fn self_signed_thumbprints_match_an_independent_digest() {
    let (cert_pem, key_pem) = cert_tool::self_signed_device("thumbprint-device");
    assert!(key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let pem = pem_of(&cert_pem);
    let leaf = cert(&pem);
    assert_issued_by(&leaf, &leaf);
    assert_client(&leaf, None);

    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02X}")).collect::<String>();
    let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &pem.contents);
    let sha256 = ring::digest::digest(&ring::digest::SHA256, &pem.contents);
    assert_eq!(
        cert_tool::thumbprint_sha1(&cert_pem).unwrap(),
        hex(sha1.as_ref())
    );
    assert_eq!(
        cert_tool::thumbprint_sha256(&cert_pem).unwrap(),
        hex(sha256.as_ref())
    );
}

#[test]
fn two_devices_get_different_keys_and_serials() {
    let root = cert_tool::root_ca().unwrap();
    let (a, _) = cert_tool::device_identity(&root, "a");
    let (b, _) = cert_tool::device_identity(&root, "b");
    let (pa, pb) = (pem_of(&a), pem_of(&b));
    let (ca, cb) = (cert(&pa), cert(&pb));
    assert_ne!(ca.raw_serial(), cb.raw_serial());
    assert_ne!(ca.public_key().raw, cb.public_key().raw);
}
