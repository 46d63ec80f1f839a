//! The emulator's own PKI (server CA and server certificate), the TLS server configuration,
//! and the checks of device certificates against registered CAs and thumbprints.

use crate::util;
use crate::Error;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use std::path::Path;
use std::sync::Arc;
use x509_parser::prelude::*;

pub const CA_CERT_FILE: &str = "emulator-ca.pem";
pub const CA_KEY_FILE: &str = "emulator-ca.key";
pub const SERVER_CERT_FILE: &str = "server-cert.pem";
pub const SERVER_KEY_FILE: &str = "server-key.pem";

/// Creates (first start) or loads the emulator CA and the server certificate in `dir`, and
/// returns the TLS server configuration.
pub(crate) fn server_tls_config(
    dir: &Path,
    extra_names: &[String],
) -> Result<Arc<rustls::ServerConfig>, Error> {
    let ca_cert = dir.join(CA_CERT_FILE);
    let ca_key = dir.join(CA_KEY_FILE);
    let srv_cert = dir.join(SERVER_CERT_FILE);
    let srv_key = dir.join(SERVER_KEY_FILE);
    if !ca_cert.exists() || !ca_key.exists() {
        let key = rcgen::KeyPair::generate().map_err(cert_err)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(cert_err)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Azure IoT Hub Emulator Root CA");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "hub-emulator");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2099, 12, 31);
        let cert = params.self_signed(&key).map_err(cert_err)?;
        crate::store::write_atomic(&ca_key, key.serialize_pem().as_bytes())?;
        crate::store::write_atomic(&ca_cert, cert.pem().as_bytes())?;
        let _ = std::fs::remove_file(&srv_cert);
    }
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    for n in extra_names {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    let names_file = dir.join("server-names.json");
    let names_json = serde_json::to_string(&names).unwrap_or_default();
    let names_changed = std::fs::read_to_string(&names_file).ok().as_deref() != Some(&names_json);
    if !srv_cert.exists() || !srv_key.exists() || names_changed {
        let ca_pem = std::fs::read_to_string(&ca_cert)?;
        let ca_key_pem = std::fs::read_to_string(&ca_key)?;
        let ca_kp = rcgen::KeyPair::from_pem(&ca_key_pem).map_err(cert_err)?;
        let issuer = rcgen::Issuer::from_ca_cert_pem(&ca_pem, ca_kp).map_err(cert_err)?;
        let key = rcgen::KeyPair::generate().map_err(cert_err)?;
        let mut params = rcgen::CertificateParams::new(names.clone()).map_err(cert_err)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2099, 12, 31);
        let cert = params.signed_by(&key, &issuer).map_err(cert_err)?;
        crate::store::write_atomic(&srv_key, key.serialize_pem().as_bytes())?;
        crate::store::write_atomic(&srv_cert, cert.pem().as_bytes())?;
        crate::store::write_atomic(&names_file, names_json.as_bytes())?;
    }
    let mut chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&srv_cert)
        .map_err(|e| Error::Cert(format!("{}: {e}", srv_cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Cert(format!("{}: {e}", srv_cert.display())))?;
    chain.extend(
        CertificateDer::pem_file_iter(&ca_cert)
            .map_err(|e| Error::Cert(e.to_string()))?
            .filter_map(Result::ok),
    );
    let key = PrivateKeyDer::from_pem_file(&srv_key)
        .map_err(|e| Error::Cert(format!("{}: {e}", srv_key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(RequestClientCert {
        algs: provider.signature_verification_algorithms,
    });
    // HUB_EMULATOR_TLS=1.2 or 1.3 offers one version only (benchmarks measure each's records).
    let versions: &[&rustls::SupportedProtocolVersion] =
        match std::env::var("HUB_EMULATOR_TLS").as_deref() {
            Ok("1.2") => &[&rustls::version::TLS12],
            Ok("1.3") => &[&rustls::version::TLS13],
            _ => &[&rustls::version::TLS12, &rustls::version::TLS13],
        };
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| Error::Tls(e.to_string()))?;
    Ok(Arc::new(cfg))
}

fn cert_err(e: rcgen::Error) -> Error {
    Error::Cert(e.to_string())
}

/// Asks every client for a certificate but lets clients without one through (SAS). The
/// handshake signature is verified, so a presented certificate proves key possession; whether
/// the certificate is acceptable is decided after the handshake against the registry.
#[derive(Debug)]
struct RequestClientCert {
    algs: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for RequestClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }
    fn client_auth_mandatory(&self) -> bool {
        false
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }
    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// Parses the first certificate of a PEM text into DER.
pub fn pem_to_der(pem: &str) -> Result<Vec<u8>, String> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map(|c| c.to_vec())
        .map_err(|e| format!("not a PEM certificate: {e}"))
}

/// Facts about a certificate.
#[derive(Debug, Clone)]
pub struct CertInfo {
    pub subject: String,
    pub common_name: Option<String>,
    pub is_ca: bool,
}

pub fn cert_info(der: &[u8]) -> Result<CertInfo, String> {
    let (_, c) = X509Certificate::from_der(der).map_err(|e| format!("bad certificate: {e}"))?;
    let cn = common_name(&c);
    let is_ca = c
        .basic_constraints()
        .ok()
        .flatten()
        .map(|b| b.value.ca)
        .unwrap_or(false);
    Ok(CertInfo {
        subject: c.subject().to_string(),
        common_name: cn,
        is_ca,
    })
}

fn common_name(c: &X509Certificate<'_>) -> Option<String> {
    c.subject()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_string)
}

/// The common name of a DER certificate.
pub fn cert_cn(der: &[u8]) -> Option<String> {
    X509Certificate::from_der(der)
        .ok()
        .and_then(|(_, c)| common_name(&c))
}

/// Whether `der` is inside its validity period now.
pub fn cert_time_valid(der: &[u8]) -> bool {
    X509Certificate::from_der(der)
        .map(|(_, c)| c.validity().is_valid())
        .unwrap_or(false)
}

/// Whether `child` (DER) is signed by `issuer` (DER): the issuer name matches the issuer's
/// subject and the signature verifies with the issuer's public key.
pub fn signed_by(child: &[u8], issuer: &[u8]) -> bool {
    let (Ok((_, c)), Ok((_, i))) = (
        X509Certificate::from_der(child),
        X509Certificate::from_der(issuer),
    ) else {
        return false;
    };
    c.issuer().as_raw() == i.subject().as_raw() && c.verify_signature(Some(i.public_key())).is_ok()
}

/// Finds a path from `chain[0]` (the device certificate) through the other presented
/// certificates to one of `anchors` (name, DER). Returns the anchor's name. Every certificate on
/// the path must be within its validity period.
pub fn chain_to_anchor<'a>(
    chain: &[Vec<u8>],
    anchors: &'a [(String, Vec<u8>)],
) -> Result<&'a str, String> {
    let leaf = chain.first().ok_or("no client certificate")?;
    if !cert_time_valid(leaf) {
        return Err("the device certificate is expired or not yet valid".into());
    }
    let mut current: &Vec<u8> = leaf;
    let mut used = vec![false; chain.len()];
    used[0] = true;
    for _depth in 0..8 {
        for (name, ca) in anchors {
            if signed_by(current, ca) {
                if !cert_time_valid(ca) {
                    return Err(format!("CA \"{name}\" is expired or not yet valid"));
                }
                return Ok(name);
            }
            if current == ca && !std::ptr::eq(current, leaf) {
                return Ok(name);
            }
        }
        let next = chain
            .iter()
            .enumerate()
            .find(|(i, c)| !used[*i] && signed_by(current, c));
        match next {
            Some((i, c)) => {
                if !cert_time_valid(c) {
                    return Err("an intermediate certificate is expired or not yet valid".into());
                }
                used[i] = true;
                current = c;
            }
            None => break,
        }
    }
    Err("the certificate does not chain to a registered, verified CA".into())
}

/// SHA-1 thumbprint of a PEM certificate, upper-case hex.
pub fn pem_thumbprint(pem: &str) -> Result<String, String> {
    Ok(util::sha1_thumbprint(&pem_to_der(pem)?))
}
