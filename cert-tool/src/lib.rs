//! Test certificates for Azure IoT Hub and the Device Provisioning Service.
//!
//! This crate is the library half of the `cert-tool` binary, a Rust port of the behaviour of the
//! `cert_tool.py` script that the nRF Connect SDK Azure IoT Hub setup guide uses. Everything it
//! makes is for **testing only**: keys are written unencrypted and nothing here is meant to run a
//! real certificate authority.
//!
//! All keys are EC P-256 keys in PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), and all signatures
//! are ECDSA with SHA-256. Every certificate is valid from the moment it is made for
//! [`VALIDITY_DAYS`] days, has a random 20-byte serial number and a subject of the form
//! `C=US, ST=Test, L=Test, O=Test Organization, CN=<common name>`.
//!
//! # The chain of the setup guide
//!
//! ```
//! # fn main() -> Result<(), cert_tool::Error> {
//! let root = cert_tool::root_ca()?; // CN=Test Root CA, self-signed
//! let sub = cert_tool::sub_ca(&root)?; // CN=Subordinate CA, signed by the root
//! let key = cert_tool::client_key()?; // the device's private key
//! let csr = cert_tool::csr(&key, "my-device")?; // CN=my-device
//! let cert = cert_tool::sign_csr(&csr, &sub)?; // the device certificate
//! cert_tool::verify_issued_by(&cert, sub.cert_pem())?;
//! cert_tool::verify_issued_by(sub.cert_pem(), root.cert_pem())?;
//! # Ok(())
//! # }
//! ```
//!
//! Tests of other crates usually want the last three steps in one call:
//! [`device_identity`] returns a CA-signed device certificate and its key, and
//! [`self_signed_device`] a self-signed one for thumbprint authentication, whose
//! [`thumbprint_sha1`] / [`thumbprint_sha256`] are what the hub is told.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use rcgen::string::{BmpString, Ia5String, PrintableString, TeletexString, UniversalString};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SerialNumber,
    SubjectPublicKeyInfo,
};
use ring::rand::SecureRandom;
use time::{Duration, OffsetDateTime};
use x509_parser::asn1_rs::Tag;
use x509_parser::certificate::X509Certificate;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

/// Country (`C`) of every subject this crate writes.
pub const COUNTRY: &str = "US";
/// State or province (`ST`) of every subject this crate writes.
pub const STATE: &str = "Test";
/// Locality (`L`) of every subject this crate writes.
pub const LOCALITY: &str = "Test";
/// Organization (`O`) of every subject this crate writes.
pub const ORGANIZATION: &str = "Test Organization";
/// Common name of the root CA made by [`root_ca`].
pub const ROOT_CA_COMMON_NAME: &str = "Test Root CA";
/// Common name of the subordinate CA made by [`sub_ca`].
pub const SUB_CA_COMMON_NAME: &str = "Subordinate CA";
/// How long every certificate made here is valid, from the moment it is made.
pub const VALIDITY_DAYS: i64 = 365;

/// Everything that can go wrong here.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// rcgen could not parse, build or sign something.
    Rcgen {
        /// What was being done, e.g. "parsing the private key".
        context: &'static str,
        /// rcgen's error.
        source: rcgen::Error,
    },
    /// An input is not what it should be (not PEM/DER of the right kind, a bad signature,
    /// a key that does not match its certificate, ...).
    Invalid(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Rcgen { context, source } => write!(f, "{context}: {source}"),
            Error::Invalid(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Rcgen { source, .. } => Some(source),
            Error::Invalid(_) => None,
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn rcgen_err(context: &'static str) -> impl FnOnce(rcgen::Error) -> Error {
    move |source| Error::Rcgen { context, source }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::Invalid(message.into())
}

/// A CA certificate and its private key, both PEM.
///
/// A bundle is checked when it is made: the certificate parses, says `CA:TRUE`, and its public
/// key is the key's. It can sign certificates ([`sign_csr`], [`sub_ca`], [`device_identity`]).
#[derive(Clone, PartialEq, Eq)]
pub struct CaBundle {
    cert_pem: String,
    key_pem: String,
}

impl fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The private key stays out of debug output.
        f.debug_struct("CaBundle")
            .field("subject", &self.subject())
            .finish_non_exhaustive()
    }
}

impl CaBundle {
    /// Builds a bundle from a PEM CA certificate and its PEM (PKCS#8) private key.
    ///
    /// Fails if the certificate does not parse or is not a CA (`BasicConstraints CA:TRUE`), if
    /// the key does not parse, or if the key is not the certificate's.
    pub fn from_pem(cert_pem: impl Into<String>, key_pem: impl Into<String>) -> Result<Self> {
        let bundle = CaBundle {
            cert_pem: cert_pem.into(),
            key_pem: key_pem.into(),
        };
        let key = KeyPair::from_pem(&bundle.key_pem).map_err(rcgen_err("parsing the CA key"))?;
        let der = decode_pem(
            bundle.cert_pem.as_bytes(),
            &["CERTIFICATE"],
            "CA certificate",
        )?;
        let cert = parse_certificate(&der, "CA certificate")?;
        let is_ca = cert
            .basic_constraints()
            .map_err(|e| invalid(format!("CA certificate: bad BasicConstraints: {e}")))?
            .is_some_and(|bc| bc.value.ca);
        if !is_ca {
            return Err(invalid(format!(
                "the certificate of {} is not a CA certificate (no BasicConstraints CA:TRUE)",
                cert.subject()
            )));
        }
        if cert.public_key().raw != key.subject_public_key_info().as_slice() {
            return Err(invalid(format!(
                "the private key does not belong to the CA certificate of {}",
                cert.subject()
            )));
        }
        Ok(bundle)
    }

    /// Reads a bundle from a certificate file and a key file, then checks it as
    /// [`from_pem`](Self::from_pem) does.
    pub fn load(cert_path: impl AsRef<Path>, key_path: impl AsRef<Path>) -> Result<Self> {
        let cert_pem = read_to_string(cert_path.as_ref())?;
        let key_pem = read_to_string(key_path.as_ref())?;
        Self::from_pem(cert_pem, key_pem)
    }

    /// Writes the certificate and the key (see [`write_pem`]).
    pub fn save(&self, cert_path: impl AsRef<Path>, key_path: impl AsRef<Path>) -> Result<()> {
        write_pem(key_path, &self.key_pem)?;
        write_pem(cert_path, &self.cert_pem)
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA's private key, PKCS#8 PEM.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// The certificate's subject as text, e.g.
    /// `C=US, ST=Test, L=Test, O=Test Organization, CN=Test Root CA`.
    pub fn subject(&self) -> String {
        certificate_field(&self.cert_pem, |cert| cert.subject().to_string())
    }

    /// The common name of the certificate's subject (`Test Root CA` for [`root_ca`]).
    pub fn common_name(&self) -> String {
        certificate_field(&self.cert_pem, |cert| {
            common_name_of(cert.subject()).unwrap_or_default()
        })
    }

    /// The certificate's SHA-1 thumbprint (see [`thumbprint_sha1`]).
    pub fn thumbprint_sha1(&self) -> String {
        thumbprint_sha1(&self.cert_pem).expect("a CaBundle holds a valid certificate")
    }

    /// The rcgen issuer that signs with this CA: its subject becomes the issuer of what it signs,
    /// and its subject key identifier the authority key identifier.
    fn issuer(&self) -> Result<Issuer<'static, KeyPair>> {
        let key = KeyPair::from_pem(&self.key_pem).map_err(rcgen_err("parsing the CA key"))?;
        Issuer::from_ca_cert_pem(&self.cert_pem, key)
            .map_err(rcgen_err("parsing the CA certificate"))
    }
}

/// Reads a field of a certificate that is known to be valid (it was checked when the bundle was
/// made).
fn certificate_field<T>(cert_pem: &str, field: impl FnOnce(&X509Certificate<'_>) -> T) -> T {
    let der = decode_pem(cert_pem.as_bytes(), &["CERTIFICATE"], "certificate")
        .expect("a CaBundle holds a valid certificate");
    let cert =
        parse_certificate(&der, "certificate").expect("a CaBundle holds a valid certificate");
    field(&cert)
}

fn common_name_of(name: &X509Name<'_>) -> Option<String> {
    name.iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned)
}

/// Generates an EC P-256 private key, PKCS#8 PEM (`cert_tool.py client_key`).
pub fn client_key() -> Result<String> {
    Ok(new_key()?.serialize_pem())
}

fn new_key() -> Result<KeyPair> {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(rcgen_err("generating an EC P-256 key"))
}

/// The subject `C=US, ST=Test, L=Test, O=Test Organization, CN=<common_name>`.
///
/// The country is a PrintableString (as RFC 5280 asks), the other attributes UTF8Strings.
pub fn test_subject(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CountryName,
        DnValue::PrintableString(PrintableString::try_from(COUNTRY).expect("US is printable")),
    );
    dn.push(DnType::StateOrProvinceName, STATE);
    dn.push(DnType::LocalityName, LOCALITY);
    dn.push(DnType::OrganizationName, ORGANIZATION);
    dn.push(DnType::CommonName, common_name);
    dn
}

/// Parameters every certificate here starts from: a random serial and `now .. now + 365 days`.
fn base_params(subject: DistinguishedName) -> Result<CertificateParams> {
    let mut params = CertificateParams::default();
    params.distinguished_name = subject;
    params.serial_number = Some(random_serial()?);
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond");
    params.not_before = now;
    params.not_after = now + Duration::days(VALIDITY_DAYS);
    Ok(params)
}

/// A random positive serial number of 20 bytes, the most RFC 5280 allows.
fn random_serial() -> Result<SerialNumber> {
    let mut bytes = [0u8; 20];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| invalid("the system random number generator failed"))?;
    // Positive (top bit clear) and a full 20 bytes long (second bit set).
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

/// CA extensions: `BasicConstraints CA:TRUE` (critical) and, as RFC 5280 asks of a certificate
/// whose key signs certificates, `KeyUsage keyCertSign, cRLSign` (critical).
/// rcgen adds the subject key identifier.
fn ca_params(common_name: &str) -> Result<CertificateParams> {
    let mut params = base_params(test_subject(common_name))?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(params)
}

/// Device (client) extensions: `BasicConstraints CA:FALSE` (critical), subject key identifier,
/// `ExtendedKeyUsage clientAuth`, `KeyUsage digitalSignature, keyEncipherment` (critical).
fn client_params(
    subject: DistinguishedName,
    with_authority_key_id: bool,
) -> Result<CertificateParams> {
    let mut params = base_params(subject)?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.use_authority_key_identifier_extension = with_authority_key_id;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    Ok(params)
}

/// Makes a root CA: a new key and a self-signed certificate for `CN=Test Root CA`
/// (`cert_tool.py root_ca`).
pub fn root_ca() -> Result<CaBundle> {
    let key = new_key()?;
    let cert = ca_params(ROOT_CA_COMMON_NAME)?
        .self_signed(&key)
        .map_err(rcgen_err("signing the root CA certificate"))?;
    Ok(CaBundle {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Makes a subordinate CA: a new key and a certificate for `CN=Subordinate CA` signed by `root`
/// (`cert_tool.py sub_ca`).
pub fn sub_ca(root: &CaBundle) -> Result<CaBundle> {
    let key = new_key()?;
    let mut params = ca_params(SUB_CA_COMMON_NAME)?;
    params.use_authority_key_identifier_extension = true;
    let cert = params
        .signed_by(&key, &root.issuer()?)
        .map_err(rcgen_err("signing the subordinate CA certificate"))?;
    Ok(CaBundle {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Makes a certificate signing request for `C=US, ST=Test, L=Test, O=Test Organization,
/// CN=<common_name>`, signed with the PKCS#8 PEM key `key_pem` (`cert_tool.py csr`).
///
/// Returns the CSR as PEM (`-----BEGIN CERTIFICATE REQUEST-----`).
pub fn csr(key_pem: &str, common_name: &str) -> Result<String> {
    if common_name.is_empty() {
        return Err(invalid("the common name must not be empty"));
    }
    let key = KeyPair::from_pem(key_pem).map_err(rcgen_err("parsing the private key"))?;
    let mut params = CertificateParams::default();
    params.distinguished_name = test_subject(common_name);
    params
        .serialize_request(&key)
        .map_err(rcgen_err("signing the CSR"))?
        .pem()
        .map_err(rcgen_err("encoding the CSR"))
}

/// Signs a certificate signing request with `issuer` (`cert_tool.py sign` and `sign_root`).
///
/// `csr` is PEM (`CERTIFICATE REQUEST`) or DER, as `nrfcredstore generate` writes it. Its
/// signature is checked; its subject and public key go into the certificate, anything else it
/// requests is ignored. The certificate has the device extensions: `BasicConstraints CA:FALSE`
/// (critical), subject and authority key identifiers, `ExtendedKeyUsage clientAuth` and
/// `KeyUsage digitalSignature, keyEncipherment` (critical).
///
/// Returns the certificate as PEM.
pub fn sign_csr(csr: impl AsRef<[u8]>, issuer: &CaBundle) -> Result<String> {
    let der = decode_pem(
        csr.as_ref(),
        &["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"],
        "CSR",
    )?;
    let (rest, request) = X509CertificationRequest::from_der(&der)
        .map_err(|e| invalid(format!("the CSR does not parse: {e}")))?;
    if !rest.is_empty() {
        return Err(invalid("the CSR has trailing bytes"));
    }
    request
        .verify_signature()
        .map_err(|e| invalid(format!("the CSR's signature does not verify: {e}")))?;
    let info = &request.certification_request_info;
    let subject = distinguished_name_from(&info.subject)?;
    let public_key = SubjectPublicKeyInfo::from_der(info.subject_pki.raw)
        .map_err(rcgen_err("reading the CSR's public key"))?;
    client_params(subject, true)?
        .signed_by(&public_key, &issuer.issuer()?)
        .map(|cert| cert.pem())
        .map_err(rcgen_err("signing the certificate"))
}

/// Converts a parsed name into rcgen's, keeping each attribute's string type so that the
/// certificate's subject is the CSR's, byte for byte.
fn distinguished_name_from(name: &X509Name<'_>) -> Result<DistinguishedName> {
    let bad = |what: &str| invalid(format!("the CSR's subject {what}"));
    let mut dn = DistinguishedName::new();
    for rdn in name.iter() {
        let mut attributes = rdn.iter();
        let attribute = match (attributes.next(), attributes.next()) {
            (Some(attribute), None) => attribute,
            _ => return Err(bad("has a multi-valued RDN, which is not supported")),
        };
        let oid: Vec<u64> = attribute
            .attr_type()
            .iter()
            .ok_or_else(|| bad("has an attribute type that is too large"))?
            .collect();
        let any = attribute.attr_value();
        let text = || std::str::from_utf8(any.data).map_err(|_| bad("is not valid text"));
        let string_err = |_| bad("has a string of the wrong character set");
        let value = match any.tag() {
            Tag::Utf8String => DnValue::Utf8String(text()?.to_owned()),
            Tag::PrintableString => {
                DnValue::PrintableString(PrintableString::try_from(text()?).map_err(string_err)?)
            }
            Tag::Ia5String => DnValue::Ia5String(Ia5String::try_from(text()?).map_err(string_err)?),
            Tag::T61String => {
                DnValue::TeletexString(TeletexString::try_from(text()?).map_err(string_err)?)
            }
            Tag::BmpString => {
                DnValue::BmpString(BmpString::from_utf16be(any.data.to_vec()).map_err(string_err)?)
            }
            Tag::UniversalString => DnValue::UniversalString(
                UniversalString::from_utf32be(any.data.to_vec()).map_err(string_err)?,
            ),
            other => return Err(bad(&format!("has an unsupported string type ({other})"))),
        };
        dn.push(DnType::from_oid(&oid), value);
    }
    Ok(dn)
}

/// A new device key and a certificate for `CN=<device_id>` signed by `issuer`, with the device
/// extensions of [`sign_csr`]: what `client_key`, `csr --common-name <device_id>` and `sign`
/// make, in one call.
///
/// Returns `(cert_pem, key_pem)`. The device ID is the certificate's common name, which is how
/// Azure IoT Hub and DPS identify a device that uses X.509 CA authentication.
///
/// # Panics
///
/// If generating or signing fails, which it does not with a [`CaBundle`] (it was checked when it
/// was made). [`try_device_identity`] returns the error instead.
pub fn device_identity(issuer: &CaBundle, device_id: &str) -> (String, String) {
    try_device_identity(issuer, device_id).expect("making a CA-signed device certificate")
}

/// [`device_identity`], returning errors instead of panicking.
pub fn try_device_identity(issuer: &CaBundle, device_id: &str) -> Result<(String, String)> {
    let key_pem = client_key()?;
    let cert_pem = sign_csr(csr(&key_pem, device_id)?, issuer)?;
    Ok((cert_pem, key_pem))
}

/// A new device key and a self-signed certificate for the subject of [`test_subject`] with
/// `CN=<device_id>` and the device extensions of [`sign_csr`], for the self-signed (thumbprint)
/// authentication of Azure IoT Hub: register its [`thumbprint_sha1`] or [`thumbprint_sha256`]
/// with the device.
///
/// Returns `(cert_pem, key_pem)`. Not a feature of `cert_tool.py`.
///
/// # Panics
///
/// If generating or signing fails, which it does not in practice;
/// [`try_self_signed_device`] returns the error instead.
pub fn self_signed_device(device_id: &str) -> (String, String) {
    try_self_signed_device(device_id).expect("making a self-signed device certificate")
}

/// [`self_signed_device`], returning errors instead of panicking.
pub fn try_self_signed_device(device_id: &str) -> Result<(String, String)> {
    let key_pem = client_key()?;
    let cert_pem = self_signed_with_key(&key_pem, device_id)?;
    Ok((cert_pem, key_pem))
}

/// A self-signed device certificate for `CN=<common_name>` with an existing PKCS#8 PEM key
/// (see [`self_signed_device`]). Returns the certificate as PEM.
pub fn self_signed_with_key(key_pem: &str, common_name: &str) -> Result<String> {
    if common_name.is_empty() {
        return Err(invalid("the common name must not be empty"));
    }
    let key = KeyPair::from_pem(key_pem).map_err(rcgen_err("parsing the private key"))?;
    client_params(test_subject(common_name), false)?
        .self_signed(&key)
        .map(|cert| cert.pem())
        .map_err(rcgen_err("signing the self-signed certificate"))
}

/// The SHA-1 thumbprint of a certificate (PEM, first `CERTIFICATE` block, or DER): 40 uppercase
/// hex digits with no separators, as Azure shows and takes thumbprints.
pub fn thumbprint_sha1(cert: impl AsRef<[u8]>) -> Result<String> {
    thumbprint(cert.as_ref(), &ring::digest::SHA1_FOR_LEGACY_USE_ONLY)
}

/// The SHA-256 thumbprint of a certificate (PEM, first `CERTIFICATE` block, or DER): 64
/// uppercase hex digits with no separators.
pub fn thumbprint_sha256(cert: impl AsRef<[u8]>) -> Result<String> {
    thumbprint(cert.as_ref(), &ring::digest::SHA256)
}

fn thumbprint(cert: &[u8], algorithm: &'static ring::digest::Algorithm) -> Result<String> {
    let der = decode_pem(cert, &["CERTIFICATE"], "certificate")?;
    parse_certificate(&der, "certificate")?;
    let digest = ring::digest::digest(algorithm, &der);
    Ok(digest.as_ref().iter().map(|b| format!("{b:02X}")).collect())
}

/// Checks that `cert` was issued by `issuer_cert`: its issuer is the issuer's subject and its
/// signature verifies with the issuer's public key. Both are PEM (first `CERTIFICATE` block) or
/// DER. Validity periods and extensions are not checked.
pub fn verify_issued_by(cert: impl AsRef<[u8]>, issuer_cert: impl AsRef<[u8]>) -> Result<()> {
    let cert_der = decode_pem(cert.as_ref(), &["CERTIFICATE"], "certificate")?;
    let issuer_der = decode_pem(issuer_cert.as_ref(), &["CERTIFICATE"], "issuer certificate")?;
    let cert = parse_certificate(&cert_der, "certificate")?;
    let issuer = parse_certificate(&issuer_der, "issuer certificate")?;
    if cert.issuer().as_raw() != issuer.subject().as_raw() {
        return Err(invalid(format!(
            "the certificate of {} names {} as its issuer, not {}",
            cert.subject(),
            cert.issuer(),
            issuer.subject()
        )));
    }
    cert.verify_signature(Some(issuer.public_key()))
        .map_err(|e| {
            invalid(format!(
                "the signature of the certificate of {} does not verify with the key of {}: {e}",
                cert.subject(),
                issuer.subject()
            ))
        })
}

fn parse_certificate<'a>(der: &'a [u8], what: &str) -> Result<X509Certificate<'a>> {
    let (rest, cert) = X509Certificate::from_der(der)
        .map_err(|e| invalid(format!("the {what} does not parse: {e}")))?;
    if !rest.is_empty() {
        return Err(invalid(format!("the {what} has trailing bytes")));
    }
    Ok(cert)
}

/// The DER of the first PEM block with one of `labels`, or `input` itself if it is not PEM.
fn decode_pem(input: &[u8], labels: &[&str], what: &str) -> Result<Vec<u8>> {
    let is_pem = input
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .is_some_and(|start| input[start..].starts_with(b"-----BEGIN "));
    if !is_pem {
        // DER always starts with a SEQUENCE here.
        if input.first() != Some(&0x30) {
            return Err(invalid(format!(
                "the {what} is neither PEM (no -----BEGIN line) nor DER"
            )));
        }
        return Ok(input.to_vec());
    }
    for block in x509_parser::pem::Pem::iter_from_buffer(input) {
        let block = block.map_err(|e| invalid(format!("the {what} is not valid PEM: {e}")))?;
        if labels.contains(&block.label.as_str()) {
            return Ok(block.contents);
        }
    }
    Err(invalid(format!(
        "the {what} has no PEM block labelled {}",
        labels.join(" or ")
    )))
}

/// Reads a text file; the error names the file.
pub fn read_to_string(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

/// Writes a PEM file, creating its parent directories as needed and replacing the file if it
/// exists. On Unix, a file that holds a private key is made readable by its owner only.
pub fn write_pem(path: impl AsRef<Path>, pem: &str) -> Result<()> {
    let path = path.as_ref();
    let io_err = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            path: parent.to_owned(),
            source,
        })?;
    }
    std::fs::write(path, pem).map_err(io_err)?;
    #[cfg(unix)]
    if pem.contains("PRIVATE KEY-----") {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pem: &str) -> x509_parser::pem::Pem {
        x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap().1
    }

    #[test]
    fn root_ca_is_self_signed_ca() {
        let root = root_ca().unwrap();
        assert_eq!(root.common_name(), ROOT_CA_COMMON_NAME);
        assert_eq!(
            root.subject(),
            "C=US, ST=Test, L=Test, O=Test Organization, CN=Test Root CA"
        );
        verify_issued_by(root.cert_pem(), root.cert_pem()).unwrap();
        let block = parse(root.cert_pem());
        let cert = block.parse_x509().unwrap();
        assert!(cert.is_ca());
        let bc = cert.basic_constraints().unwrap().unwrap();
        assert!(bc.critical);
        assert_eq!(cert.serial.to_bytes_be().len(), 20);
    }

    #[test]
    fn serials_are_random() {
        let a = random_serial().unwrap();
        let b = random_serial().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 20);
        assert_eq!(a.to_bytes()[0] & 0xc0, 0x40);
    }

    #[test]
    fn validity_is_365_days_from_now() {
        let root = root_ca().unwrap();
        let block = parse(root.cert_pem());
        let cert = block.parse_x509().unwrap();
        let not_before = cert.validity().not_before.timestamp();
        let not_after = cert.validity().not_after.timestamp();
        let now = OffsetDateTime::now_utc().unix_timestamp();
        assert!((now - not_before).abs() < 60, "not_before is now");
        assert_eq!(not_after - not_before, VALIDITY_DAYS * 24 * 3600);
    }

    #[test]
    fn bundle_rejects_a_foreign_key() {
        let root = root_ca().unwrap();
        let other = client_key().unwrap();
        let err = CaBundle::from_pem(root.cert_pem(), other).unwrap_err();
        assert!(err.to_string().contains("does not belong"), "{err}");
    }

    #[test]
    fn bundle_rejects_a_leaf_certificate() {
        let root = root_ca().unwrap();
        let (cert, key) = device_identity(&root, "leaf");
        let err = CaBundle::from_pem(cert, key).unwrap_err();
        assert!(err.to_string().contains("not a CA"), "{err}");
    }

    #[test]
    fn bundle_debug_hides_the_key() {
        let root = root_ca().unwrap();
        let text = format!("{root:?}");
        assert!(text.contains("Test Root CA"), "{text}");
        assert!(!text.contains("PRIVATE KEY"), "{text}");
    }

    #[test]
    fn csr_subject_and_der_input() {
        let root = root_ca().unwrap();
        let key = client_key().unwrap();
        let request = csr(&key, "dev-1").unwrap();
        assert!(request.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
        // DER input, as nrfcredstore writes it, works as well as PEM.
        let der = decode_pem(request.as_bytes(), &["CERTIFICATE REQUEST"], "CSR").unwrap();
        let cert = sign_csr(&der, &root).unwrap();
        let block = parse(&cert);
        let parsed = block.parse_x509().unwrap();
        assert_eq!(
            parsed.subject().to_string(),
            "C=US, ST=Test, L=Test, O=Test Organization, CN=dev-1"
        );
    }

    #[test]
    fn csr_rejects_empty_common_name() {
        let key = client_key().unwrap();
        assert!(csr(&key, "").is_err());
    }

    #[test]
    fn sign_rejects_a_tampered_csr() {
        let root = root_ca().unwrap();
        let key = client_key().unwrap();
        let request = csr(&key, "dev-1").unwrap();
        let mut der = decode_pem(request.as_bytes(), &["CERTIFICATE REQUEST"], "CSR").unwrap();
        // Change one letter of the common name: the signature no longer matches.
        let at = der.windows(5).position(|w| w == b"dev-1").unwrap();
        der[at] = b'D';
        let err = sign_csr(&der, &root).unwrap_err();
        assert!(err.to_string().contains("signature"), "{err}");
    }

    #[test]
    fn sign_rejects_garbage() {
        let root = root_ca().unwrap();
        assert!(sign_csr("not a csr", &root).is_err());
        assert!(sign_csr(root.cert_pem(), &root).is_err());
    }

    #[test]
    fn thumbprints_are_uppercase_hex() {
        let (cert, _key) = self_signed_device("thumb");
        let sha1 = thumbprint_sha1(&cert).unwrap();
        let sha256 = thumbprint_sha256(&cert).unwrap();
        assert_eq!(sha1.len(), 40);
        assert_eq!(sha256.len(), 64);
        for t in [&sha1, &sha256] {
            assert!(t
                .chars()
                .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)));
        }
        // PEM and DER of the same certificate have the same thumbprint.
        let der = decode_pem(cert.as_bytes(), &["CERTIFICATE"], "certificate").unwrap();
        assert_eq!(thumbprint_sha1(&der).unwrap(), sha1);
        // Known answer: SHA-1 of the DER, computed independently of `thumbprint`.
        let expected: String = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &der)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        assert_eq!(sha1, expected);
    }

    #[test]
    fn self_signed_device_is_its_own_issuer_and_not_a_ca() {
        let (cert, key) = self_signed_device("selfie");
        verify_issued_by(&cert, &cert).unwrap();
        let block = parse(&cert);
        let parsed = block.parse_x509().unwrap();
        assert!(!parsed.is_ca());
        assert!(
            parsed
                .extended_key_usage()
                .unwrap()
                .unwrap()
                .value
                .client_auth
        );
        assert_eq!(common_name_of(parsed.subject()).as_deref(), Some("selfie"));
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
    }

    #[test]
    fn verify_issued_by_rejects_the_wrong_issuer() {
        let root = root_ca().unwrap();
        let other = root_ca().unwrap();
        let (cert, _) = device_identity(&root, "dev");
        verify_issued_by(&cert, root.cert_pem()).unwrap();
        // Same subject name, different key: the signature check catches it.
        let err = verify_issued_by(&cert, other.cert_pem()).unwrap_err();
        assert!(err.to_string().contains("does not verify"), "{err}");
        let sub = sub_ca(&root).unwrap();
        let err = verify_issued_by(&cert, sub.cert_pem()).unwrap_err();
        assert!(err.to_string().contains("names"), "{err}");
    }

    #[test]
    fn write_pem_creates_directories_and_protects_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/key.pem");
        write_pem(&path, &client_key().unwrap()).unwrap();
        assert!(path.exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn io_errors_name_the_file() {
        let err = read_to_string(Path::new("/nonexistent/cert.pem")).unwrap_err();
        assert!(
            err.to_string().starts_with("/nonexistent/cert.pem: "),
            "{err}"
        );
    }
}
