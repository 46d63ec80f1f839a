//! `cert-tool`: test certificates for Azure IoT Hub, with the commands and default file names of
//! the nRF Connect SDK's `cert_tool.py`. See the README beside this crate.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cert_tool::{CaBundle, Result};
use clap::{Args, Parser, Subcommand};

const WARNING: &str = "WARNING: these keys and certificates are for testing only. \
                       Do not use them in production.";

/// Test certificates for Azure IoT Hub (EC P-256 keys, PEM files).
#[derive(Debug, Parser)]
#[command(
    name = "cert-tool",
    version,
    arg_required_else_help = true,
    after_help = "The certificates this tool makes are for testing only."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a client private key (EC P-256, PKCS#8)
    #[command(name = "client_key")]
    ClientKey {
        #[command(flatten)]
        client_key: ClientKeyArg,
    },
    /// Generate a root CA key and self-signed certificate (CN=Test Root CA)
    #[command(name = "root_ca")]
    RootCa {
        #[command(flatten)]
        root: RootArgs,
    },
    /// Generate a subordinate CA key and certificate (CN=Subordinate CA), signed by the root CA
    #[command(name = "sub_ca")]
    SubCa {
        #[command(flatten)]
        sub: SubArgs,
        #[command(flatten)]
        root: RootArgs,
    },
    /// Generate a certificate signing request for the client key
    Csr {
        /// Common name of the subject: the device ID, or a verification code
        #[arg(long, value_name = "CN")]
        common_name: String,
        #[command(flatten)]
        client_key: ClientKeyArg,
        #[command(flatten)]
        client_csr: ClientCsrArg,
    },
    /// Sign the client CSR with the subordinate CA
    Sign {
        #[command(flatten)]
        client: SignArgs,
        #[command(flatten)]
        sub: SubArgs,
    },
    /// Sign the client CSR with the root CA (e.g. for proof of possession)
    #[command(name = "sign_root")]
    SignRoot {
        #[command(flatten)]
        client: SignArgs,
        #[command(flatten)]
        root: RootArgs,
    },
    /// Generate a client key and a self-signed certificate (thumbprint authentication; not in
    /// cert_tool.py)
    #[command(name = "self_signed")]
    SelfSigned {
        /// Common name of the subject: the device ID
        #[arg(long, value_name = "CN")]
        common_name: String,
        #[command(flatten)]
        client_key: ClientKeyArg,
        /// Output file of the client certificate
        #[arg(long, value_name = "FILE", default_value = "certs/client-cert.pem")]
        client_cert: PathBuf,
    },
    /// Print the SHA-1 and SHA-256 thumbprints of a certificate, as Azure shows them (not in
    /// cert_tool.py)
    Thumbprint {
        /// The certificate (PEM or DER)
        #[arg(long, value_name = "FILE", default_value = "certs/client-cert.pem")]
        cert: PathBuf,
    },
}

#[derive(Debug, Args)]
struct ClientKeyArg {
    /// File of the client private key
    #[arg(long, value_name = "FILE", default_value = "certs/private-key.pem")]
    client_key: PathBuf,
}

#[derive(Debug, Args)]
struct ClientCsrArg {
    /// File of the client certificate signing request
    #[arg(long, value_name = "FILE", default_value = "certs/client-csr.pem")]
    client_csr: PathBuf,
}

#[derive(Debug, Args)]
struct SignArgs {
    /// Input file of the client certificate signing request (PEM or DER)
    #[arg(long, value_name = "FILE", default_value = "certs/client-csr.pem")]
    client_csr: PathBuf,
    /// Output file of the client certificate
    #[arg(long, value_name = "FILE", default_value = "certs/client-cert.pem")]
    client_cert: PathBuf,
}

#[derive(Debug, Args)]
struct RootArgs {
    /// File of the root CA private key
    #[arg(long, value_name = "FILE", default_value = "ca/root-ca-key.pem")]
    root_key: PathBuf,
    /// File of the root CA certificate
    #[arg(long, value_name = "FILE", default_value = "ca/root-ca-cert.pem")]
    root_cert: PathBuf,
}

#[derive(Debug, Args)]
struct SubArgs {
    /// File of the subordinate CA private key
    #[arg(long, value_name = "FILE", default_value = "ca/sub-ca-key.pem")]
    sub_key: PathBuf,
    /// File of the subordinate CA certificate
    #[arg(long, value_name = "FILE", default_value = "ca/sub-ca-cert.pem")]
    sub_cert: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<()> {
    let wrote_certificates = !matches!(command, Command::Thumbprint { .. });
    match command {
        Command::ClientKey { client_key } => {
            write(&client_key.client_key, &cert_tool::client_key()?)?;
        }
        Command::RootCa { root } => {
            let bundle = cert_tool::root_ca()?;
            save(&bundle, &root.root_cert, &root.root_key)?;
        }
        Command::SubCa { sub, root } => {
            let root = load_ca(&root.root_cert, &root.root_key, "root_ca")?;
            let bundle = cert_tool::sub_ca(&root)?;
            save(&bundle, &sub.sub_cert, &sub.sub_key)?;
        }
        Command::Csr {
            common_name,
            client_key,
            client_csr,
        } => {
            let key = read(&client_key.client_key, "client_key")?;
            let csr = cert_tool::csr(&key, &common_name)?;
            write(&client_csr.client_csr, &csr)?;
        }
        Command::Sign { client, sub } => {
            let issuer = load_ca(&sub.sub_cert, &sub.sub_key, "sub_ca")?;
            sign(&client, &issuer)?;
        }
        Command::SignRoot { client, root } => {
            let issuer = load_ca(&root.root_cert, &root.root_key, "root_ca")?;
            sign(&client, &issuer)?;
        }
        Command::SelfSigned {
            common_name,
            client_key,
            client_cert,
        } => {
            let key = cert_tool::client_key()?;
            let cert = cert_tool::self_signed_with_key(&key, &common_name)?;
            write(&client_key.client_key, &key)?;
            write(&client_cert, &cert)?;
            println!("SHA-1 thumbprint:   {}", cert_tool::thumbprint_sha1(&cert)?);
            println!(
                "SHA-256 thumbprint: {}",
                cert_tool::thumbprint_sha256(&cert)?
            );
        }
        Command::Thumbprint { cert } => {
            let der_or_pem = std::fs::read(&cert).map_err(|source| cert_tool::Error::Io {
                path: cert.clone(),
                source,
            })?;
            println!("SHA-1:   {}", cert_tool::thumbprint_sha1(&der_or_pem)?);
            println!("SHA-256: {}", cert_tool::thumbprint_sha256(&der_or_pem)?);
        }
    }
    if wrote_certificates {
        eprintln!("{WARNING}");
    }
    Ok(())
}

fn sign(args: &SignArgs, issuer: &CaBundle) -> Result<()> {
    let csr = std::fs::read(&args.client_csr).map_err(|source| {
        with_hint(
            cert_tool::Error::Io {
                path: args.client_csr.clone(),
                source,
            },
            "csr",
        )
    })?;
    let cert = cert_tool::sign_csr(&csr, issuer)?;
    write(&args.client_cert, &cert)
}

fn load_ca(cert: &Path, key: &Path, made_by: &str) -> Result<CaBundle> {
    let cert_pem = read(cert, made_by)?;
    let key_pem = read(key, made_by)?;
    CaBundle::from_pem(cert_pem, key_pem)
}

/// Reads an input file; if it is missing, the error says which command makes it.
fn read(path: &Path, made_by: &str) -> Result<String> {
    cert_tool::read_to_string(path).map_err(|err| with_hint(err, made_by))
}

fn with_hint(err: cert_tool::Error, made_by: &str) -> cert_tool::Error {
    match err {
        cert_tool::Error::Io { path, source } if source.kind() == std::io::ErrorKind::NotFound => {
            cert_tool::Error::Invalid(format!(
                "{}: {source} (run `cert-tool {made_by}` first, or give its path)",
                path.display()
            ))
        }
        other => other,
    }
}

fn write(path: &Path, pem: &str) -> Result<()> {
    cert_tool::write_pem(path, pem)?;
    println!("{} generated successfully!", path.display());
    Ok(())
}

fn save(bundle: &CaBundle, cert: &Path, key: &Path) -> Result<()> {
    write(key, bundle.key_pem())?;
    write(cert, bundle.cert_pem())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn subcommands_use_the_names_of_cert_tool_py() {
        let names: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_owned())
            .collect();
        for name in [
            "client_key",
            "root_ca",
            "sub_ca",
            "csr",
            "sign",
            "sign_root",
        ] {
            assert!(
                names.iter().any(|n| n == name),
                "{name} missing from {names:?}"
            );
        }
    }

    #[test]
    fn defaults_are_those_of_cert_tool_py() {
        let cli = Cli::try_parse_from(["cert-tool", "sign"]).unwrap();
        let Command::Sign { client, sub } = cli.command else {
            panic!("not sign");
        };
        assert_eq!(client.client_csr, Path::new("certs/client-csr.pem"));
        assert_eq!(client.client_cert, Path::new("certs/client-cert.pem"));
        assert_eq!(sub.sub_key, Path::new("ca/sub-ca-key.pem"));
        assert_eq!(sub.sub_cert, Path::new("ca/sub-ca-cert.pem"));
    }
}
