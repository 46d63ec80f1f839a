//! Security tags → PEM files → a rustls client configuration.
//!
//! As `CONFIG_MQTT_HELPER_PROVISION_CERTIFICATES` on Zephyr: the primary tag holds `ca-cert.pem`,
//! `client-cert.pem` and `private-key.pem`; the secondary tag (when > -1) holds `ca-cert-2.pem`,
//! `client-cert-2.pem` and `private-key-2.pem`. The server is trusted if it chains to a CA of any
//! tag in use (and only those: no system or web roots). The client authenticates with the
//! certificate and key of the first tag that has a client certificate. Each file is optional on
//! its own (a secondary tag often holds only a second CA, as for a root-CA migration).

use std::format;
use std::fs;
use std::io;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::sync::Arc;
use std::vec::Vec;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use super::{Credentials, LOG_TRANSPORT};

/// The files of one security tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFiles {
    /// The security tag.
    pub sec_tag: i32,
    /// CA certificate(s) the server must chain to (`ca-cert.pem` / `ca-cert-2.pem`).
    pub ca_cert: PathBuf,
    /// Client certificate chain (`client-cert.pem` / `client-cert-2.pem`).
    pub client_cert: PathBuf,
    /// Client private key (`private-key.pem` / `private-key-2.pem`): PKCS#8, SEC1 (EC) or PKCS#1
    /// (RSA).
    pub private_key: PathBuf,
}

pub(crate) fn tag_files(creds: &Credentials) -> Vec<TagFiles> {
    let dir = &creds.folder;
    let mut tags = Vec::with_capacity(2);
    tags.push(TagFiles {
        sec_tag: creds.sec_tag,
        ca_cert: dir.join("ca-cert.pem"),
        client_cert: dir.join("client-cert.pem"),
        private_key: dir.join("private-key.pem"),
    });
    if creds.secondary_sec_tag > -1 {
        tags.push(TagFiles {
            sec_tag: creds.secondary_sec_tag,
            ca_cert: dir.join("ca-cert-2.pem"),
            client_cert: dir.join("client-cert-2.pem"),
            private_key: dir.join("private-key-2.pem"),
        });
    }
    tags
}

/// The file's contents, or `None` when it does not exist.
fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, String> {
    match fs::read(path) {
        Ok(data) => Ok(Some(data)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

fn parse_certs(path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = rustls_pemfile::certs(&mut BufReader::new(pem))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: invalid PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no CERTIFICATE in the file", path.display()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let Some(pem) = read_optional(path)? else {
        return Err(format!(
            "{} not found (the client certificate needs its key)",
            path.display()
        ));
    };
    match rustls_pemfile::private_key(&mut BufReader::new(&pem[..])) {
        Ok(Some(key)) => Ok(key),
        Ok(None) => Err(format!(
            "{}: no private key in the file (PKCS#8, SEC1 EC or PKCS#1 RSA PEM expected)",
            path.display()
        )),
        Err(e) => Err(format!("{}: invalid PEM: {e}", path.display())),
    }
}

fn names(paths: impl Iterator<Item = PathBuf>) -> String {
    paths
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Builds the rustls configuration. `password` says whether a SAS token authenticates the
/// device, in which case a client certificate is optional.
///
/// Each file is optional on its own; it is an error when no tag has a CA certificate, when no
/// tag has a client certificate (unless `password`), and when a client certificate has no key.
pub(crate) fn client_config(creds: &Credentials, password: bool) -> Result<ClientConfig, String> {
    let tags = tag_files(creds);
    let mut roots = RootCertStore::empty();
    let mut client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> = None;
    for tag in &tags {
        if let Some(pem) = read_optional(&tag.ca_cert)? {
            for cert in parse_certs(&tag.ca_cert, &pem)? {
                roots.add(cert).map_err(|e| {
                    format!("{}: unusable CA certificate: {e}", tag.ca_cert.display())
                })?;
            }
            log::debug!(target: LOG_TRANSPORT, "trusting the CA certificates of {}", tag.ca_cert.display());
        }
        if client.is_none() {
            if let Some(pem) = read_optional(&tag.client_cert)? {
                let chain = parse_certs(&tag.client_cert, &pem)?;
                let key = read_key(&tag.private_key)?;
                log::debug!(target: LOG_TRANSPORT, "client certificate from {}", tag.client_cert.display());
                client = Some((chain, key));
            }
        }
    }
    if roots.is_empty() {
        return Err(format!(
            "no CA certificate: {} not found",
            names(tags.iter().map(|t| t.ca_cert.clone()))
        ));
    }
    if client.is_none() && !password {
        return Err(format!(
            "no client certificate: {} not found",
            names(tags.iter().map(|t| t.client_cert.clone()))
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_root_certificates(roots);
    match client {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("client certificate or key unusable: {e}")),
        None => Ok(builder.with_no_client_auth()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secondary_tag_only_when_set() {
        let mut c = Credentials {
            folder: PathBuf::from("certs"),
            sec_tag: -1,
            secondary_sec_tag: -1,
        };
        let t = tag_files(&c);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].ca_cert, Path::new("certs/ca-cert.pem"));
        assert_eq!(t[0].client_cert, Path::new("certs/client-cert.pem"));
        assert_eq!(t[0].private_key, Path::new("certs/private-key.pem"));
        c.secondary_sec_tag = 0;
        let t = tag_files(&c);
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].ca_cert, Path::new("certs/ca-cert-2.pem"));
        assert_eq!(t[1].client_cert, Path::new("certs/client-cert-2.pem"));
        assert_eq!(t[1].private_key, Path::new("certs/private-key-2.pem"));
    }

    #[test]
    fn missing_file_is_named() {
        let c = Credentials {
            folder: PathBuf::from("/nonexistent-azure-iot-hub-test"),
            sec_tag: 1,
            secondary_sec_tag: -1,
        };
        let err = client_config(&c, false).unwrap_err();
        assert!(
            err.contains("/nonexistent-azure-iot-hub-test/ca-cert.pem"),
            "{err}"
        );
    }
}
