//! The chains this crate makes must pass the verifier that rustls uses for client certificates
//! (and so the hub emulator's TLS server): webpki, with EKU clientAuth.

use rustls_pki_types::{CertificateDer, UnixTime};
use webpki::{anchor_from_trusted_cert, EndEntityCert, KeyUsage, ALL_VERIFICATION_ALGS};

fn der(pem: &str) -> CertificateDer<'static> {
    let block = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .expect("PEM")
        .1;
    CertificateDer::from(block.contents)
}

fn verify(
    leaf: &str,
    intermediates: &[&str],
    root: &str,
    usage: KeyUsage,
) -> Result<(), webpki::Error> {
    let root_der = der(root);
    let anchors = [anchor_from_trusted_cert(&root_der)?.to_owned()];
    let intermediates: Vec<_> = intermediates.iter().map(|pem| der(pem)).collect();
    let leaf_der = der(leaf);
    let leaf = EndEntityCert::try_from(&leaf_der)?;
    leaf.verify_for_usage(
        ALL_VERIFICATION_ALGS,
        &anchors,
        &intermediates,
        UnixTime::now(),
        usage,
        None,
        None,
    )
    .map(|_| ())
}

#[test]
fn device_chain_through_the_sub_ca_passes_webpki() {
    let root = cert_tool::root_ca().unwrap();
    let sub = cert_tool::sub_ca(&root).unwrap();
    let (cert, _key) = cert_tool::device_identity(&sub, "webpki-device");
    verify(
        &cert,
        &[sub.cert_pem()],
        root.cert_pem(),
        KeyUsage::client_auth(),
    )
    .unwrap();
    // Without the intermediate there is no path.
    assert!(verify(&cert, &[], root.cert_pem(), KeyUsage::client_auth()).is_err());
    // The certificate is for clients only.
    assert!(verify(
        &cert,
        &[sub.cert_pem()],
        root.cert_pem(),
        KeyUsage::server_auth()
    )
    .is_err());
}

#[test]
fn device_signed_by_the_root_passes_webpki() {
    let root = cert_tool::root_ca().unwrap();
    let (cert, _key) = cert_tool::device_identity(&root, "root-signed");
    verify(&cert, &[], root.cert_pem(), KeyUsage::client_auth()).unwrap();
    // A different root with the same name does not verify it.
    let other = cert_tool::root_ca().unwrap();
    assert!(verify(&cert, &[], other.cert_pem(), KeyUsage::client_auth()).is_err());
}

#[test]
fn a_device_certificate_cannot_act_as_a_ca() {
    let root = cert_tool::root_ca().unwrap();
    let (device, device_key) = cert_tool::device_identity(&root, "not-a-ca");
    // Build a certificate "signed" by the device with rcgen directly, bypassing CaBundle's
    // check, and make sure webpki rejects the path.
    let issuer =
        rcgen::Issuer::from_ca_cert_pem(&device, rcgen::KeyPair::from_pem(&device_key).unwrap())
            .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    let forged = params.signed_by(&key, &issuer).unwrap().pem();
    assert!(verify(
        &forged,
        &[&device],
        root.cert_pem(),
        KeyUsage::client_auth()
    )
    .is_err());
}
