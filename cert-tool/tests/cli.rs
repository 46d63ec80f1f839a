//! End-to-end tests of the `cert-tool` binary: each runs it in a fresh temporary directory and
//! checks what it wrote with x509-parser.

mod common;

use common::*;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::prelude::FromDer;

#[test]
fn chain_with_default_paths() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let out = run_ok(d, &["root_ca"]);
    assert!(
        out.contains("ca/root-ca-key.pem generated successfully!"),
        "{out}"
    );
    assert!(
        out.contains("ca/root-ca-cert.pem generated successfully!"),
        "{out}"
    );
    let out = run_ok(d, &["sub_ca"]);
    assert!(
        out.contains("ca/sub-ca-cert.pem generated successfully!"),
        "{out}"
    );
    let out = run_ok(d, &["client_key"]);
    assert_eq!(out.trim(), "certs/private-key.pem generated successfully!");
    let out = run_ok(d, &["csr", "--common-name", "my-device-01"]);
    assert!(
        out.contains("certs/client-csr.pem generated successfully!"),
        "{out}"
    );
    let out = run_ok(d, &["sign"]);
    assert!(
        out.contains("certs/client-cert.pem generated successfully!"),
        "{out}"
    );

    let root_pem = read_pem(&d.join("ca/root-ca-cert.pem"));
    let sub_pem = read_pem(&d.join("ca/sub-ca-cert.pem"));
    let leaf_pem = read_pem(&d.join("certs/client-cert.pem"));
    let (root, sub, leaf) = (cert(&root_pem), cert(&sub_pem), cert(&leaf_pem));

    // Root: self-signed CA.
    let root_subject = format!("{SUBJECT_PREFIX}Test Root CA");
    assert_eq!(root.subject().to_string(), root_subject);
    assert_eq!(root.issuer().to_string(), root_subject);
    assert_ca(&root);
    assert_issued_by(&root, &root);
    assert_p256(&root);
    assert_valid_for_a_year(&root);
    assert_key_matches(&d.join("ca/root-ca-key.pem"), &root);

    // Subordinate CA: signed by the root.
    assert_eq!(
        sub.subject().to_string(),
        format!("{SUBJECT_PREFIX}Subordinate CA")
    );
    assert_eq!(sub.issuer().to_string(), root_subject);
    assert_ca(&sub);
    assert_issued_by(&sub, &root);
    assert_p256(&sub);
    assert_valid_for_a_year(&sub);
    assert_key_matches(&d.join("ca/sub-ca-key.pem"), &sub);

    // Device: signed by the subordinate CA, for the client key, CN from the CSR.
    assert_eq!(common_name(&leaf), "my-device-01");
    assert_eq!(
        leaf.subject().to_string(),
        format!("{SUBJECT_PREFIX}my-device-01")
    );
    assert_eq!(leaf.issuer().as_raw(), sub.subject().as_raw());
    assert_client(&leaf, Some(&sub));
    assert_issued_by(&leaf, &sub);
    assert_p256(&leaf);
    assert_valid_for_a_year(&leaf);
    assert_key_matches(&d.join("certs/private-key.pem"), &leaf);

    // Serials are 20 random bytes: all different.
    assert_ne!(root.raw_serial(), sub.raw_serial());
    assert_ne!(sub.raw_serial(), leaf.raw_serial());

    // The library agrees with the chain.
    let read = |p: &str| std::fs::read_to_string(d.join(p)).unwrap();
    cert_tool::verify_issued_by(read("certs/client-cert.pem"), read("ca/sub-ca-cert.pem")).unwrap();
    cert_tool::verify_issued_by(read("ca/sub-ca-cert.pem"), read("ca/root-ca-cert.pem")).unwrap();
}

#[test]
fn csr_has_the_test_subject_and_a_valid_signature() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_ok(d, &["client_key"]);
    run_ok(d, &["csr", "--common-name", "0123456789abcdef"]);

    let pem = read_pem(&d.join("certs/client-csr.pem"));
    assert_eq!(pem.label, "CERTIFICATE REQUEST");
    let (rest, csr) = X509CertificationRequest::from_der(&pem.contents).unwrap();
    assert!(rest.is_empty());
    csr.verify_signature()
        .expect("CSR is signed by its own key");
    let info = &csr.certification_request_info;
    assert_eq!(
        info.subject.to_string(),
        format!("{SUBJECT_PREFIX}0123456789abcdef")
    );
    // The CSR carries the client key's public key.
    let key = rcgen::KeyPair::from_pem(
        &std::fs::read_to_string(d.join("certs/private-key.pem")).unwrap(),
    )
    .unwrap();
    use rcgen::PublicKeyData;
    assert_eq!(key.subject_public_key_info(), info.subject_pki.raw);
}

#[test]
fn sign_root_signs_with_the_root_ca() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_ok(d, &["root_ca"]);
    run_ok(d, &["client_key"]);
    // A proof-of-possession verification code as the common name.
    let code = "1A2B3C4D5E6F7A8B9C0D1E2F3A4B5C6D7E8F9A0B1C2D3E4F";
    run_ok(d, &["csr", "--common-name", code]);
    let out = run_ok(d, &["sign_root"]);
    assert!(
        out.contains("certs/client-cert.pem generated successfully!"),
        "{out}"
    );

    let root_pem = read_pem(&d.join("ca/root-ca-cert.pem"));
    let leaf_pem = read_pem(&d.join("certs/client-cert.pem"));
    let (root, leaf) = (cert(&root_pem), cert(&leaf_pem));
    assert_eq!(common_name(&leaf), code);
    assert_eq!(
        leaf.issuer().to_string(),
        format!("{SUBJECT_PREFIX}Test Root CA")
    );
    assert_client(&leaf, Some(&root));
    assert_issued_by(&leaf, &root);
    assert_p256(&leaf);
    assert_key_matches(&d.join("certs/private-key.pem"), &leaf);
}

#[test]
fn every_path_option_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = ["--root-key", "x/r/key.pem", "--root-cert", "x/r/cert.pem"];
    let sub = ["--sub-key", "y/s/key.pem", "--sub-cert", "y/s/cert.pem"];

    run_ok(d, &[&["root_ca"][..], &root].concat());
    run_ok(d, &[&["sub_ca"][..], &sub, &root].concat());
    run_ok(d, &["client_key", "--client-key", "dev/k.pem"]);
    run_ok(
        d,
        &[
            "csr",
            "--common-name",
            "custom",
            "--client-key",
            "dev/k.pem",
            "--client-csr",
            "dev/r.csr",
        ],
    );
    run_ok(
        d,
        &[
            &[
                "sign",
                "--client-csr",
                "dev/r.csr",
                "--client-cert",
                "dev/sub-signed.pem",
            ][..],
            &sub,
        ]
        .concat(),
    );
    run_ok(
        d,
        &[
            &[
                "sign_root",
                "--client-csr",
                "dev/r.csr",
                "--client-cert",
                "dev/root-signed.pem",
            ][..],
            &root,
        ]
        .concat(),
    );

    // Nothing went to the default paths.
    assert!(!d.join("ca").exists());
    assert!(!d.join("certs").exists());

    let root_pem = read_pem(&d.join("x/r/cert.pem"));
    let sub_pem = read_pem(&d.join("y/s/cert.pem"));
    let by_sub_pem = read_pem(&d.join("dev/sub-signed.pem"));
    let by_root_pem = read_pem(&d.join("dev/root-signed.pem"));
    let (root, sub) = (cert(&root_pem), cert(&sub_pem));
    let (by_sub, by_root) = (cert(&by_sub_pem), cert(&by_root_pem));
    assert_issued_by(&sub, &root);
    assert_issued_by(&by_sub, &sub);
    assert_issued_by(&by_root, &root);
    assert_eq!(common_name(&by_sub), "custom");
    assert_eq!(common_name(&by_root), "custom");
    assert_key_matches(&d.join("dev/k.pem"), &by_sub);
    assert_key_matches(&d.join("y/s/key.pem"), &sub);
}

#[test]
fn csr_without_common_name_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(dir.path(), &["client_key"]);
    let (code, stderr) = run_err(dir.path(), &["csr"]);
    assert_eq!(code, 2, "clap's usage-error exit code");
    assert!(stderr.contains("--common-name"), "{stderr}");
    assert!(stderr.contains("required"), "{stderr}");
    assert!(stderr.contains("Usage:"), "{stderr}");
    assert!(!dir.path().join("certs/client-csr.pem").exists());
}

#[test]
fn unknown_subcommand_and_no_subcommand_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = run_err(dir.path(), &["make_everything"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("make_everything"), "{stderr}");
    let (code, stderr) = run_err(dir.path(), &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("root_ca"), "lists the commands: {stderr}");
}

#[test]
fn missing_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // (command, the file it reads first, the command that makes that file)
    let cases: &[(&[&str], &str, &str)] = &[
        (&["sub_ca"], "ca/root-ca-cert.pem", "root_ca"),
        (&["sign_root"], "ca/root-ca-cert.pem", "root_ca"),
        (&["sign"], "ca/sub-ca-cert.pem", "sub_ca"),
        (
            &["csr", "--common-name", "x"],
            "certs/private-key.pem",
            "client_key",
        ),
        (&["thumbprint"], "certs/client-cert.pem", ""),
    ];
    for (args, file, made_by) in cases {
        let (code, stderr) = run_err(d, args);
        assert_eq!(code, 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(stderr.contains(file), "{args:?} names {file}: {stderr}");
        assert!(stderr.contains("No such file"), "{args:?}: {stderr}");
        if !made_by.is_empty() {
            assert!(
                stderr.contains(&format!("cert-tool {made_by}")),
                "{args:?} hints at {made_by}: {stderr}"
            );
        }
        assert!(!stderr.contains("panicked"), "{stderr}");
    }

    // With the CAs in place, `sign` lacks only the CSR.
    run_ok(d, &["root_ca"]);
    run_ok(d, &["sub_ca"]);
    let (code, stderr) = run_err(d, &["sign"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("certs/client-csr.pem"), "{stderr}");
    assert!(stderr.contains("cert-tool csr"), "{stderr}");
    assert!(!d.join("certs/client-cert.pem").exists());
}

#[test]
fn bad_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_ok(d, &["root_ca"]);
    run_ok(d, &["sub_ca"]);
    std::fs::create_dir_all(d.join("certs")).unwrap();

    // A CSR file with garbage in it.
    std::fs::write(d.join("certs/client-csr.pem"), "hello\n").unwrap();
    let (code, stderr) = run_err(d, &["sign"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("CSR"), "{stderr}");

    // A certificate given where a CSR is expected.
    let (code, stderr) = run_err(d, &["sign", "--client-csr", "ca/root-ca-cert.pem"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("CERTIFICATE REQUEST"), "{stderr}");

    // A CA certificate with somebody else's key.
    run_ok(d, &["client_key"]);
    run_ok(d, &["csr", "--common-name", "dev"]);
    let (code, stderr) = run_err(d, &["sign", "--sub-key", "ca/root-ca-key.pem"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("does not belong"), "{stderr}");

    // A device certificate is not a CA.
    run_ok(d, &["sign"]);
    let (code, stderr) = run_err(
        d,
        &[
            "sign",
            "--sub-cert",
            "certs/client-cert.pem",
            "--sub-key",
            "certs/private-key.pem",
        ],
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("not a CA"), "{stderr}");
}

#[test]
fn help_for_the_tool_and_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for name in [
        "client_key",
        "root_ca",
        "sub_ca",
        "csr",
        "sign",
        "sign_root",
    ] {
        assert!(text.contains(name), "--help lists {name}: {text}");
    }
    assert!(text.contains("testing only"), "{text}");

    let expected: &[(&str, &[&str])] = &[
        ("client_key", &["--client-key", "certs/private-key.pem"]),
        (
            "root_ca",
            &[
                "--root-key",
                "ca/root-ca-key.pem",
                "--root-cert",
                "ca/root-ca-cert.pem",
            ],
        ),
        (
            "sub_ca",
            &[
                "--sub-key",
                "ca/sub-ca-key.pem",
                "--sub-cert",
                "ca/sub-ca-cert.pem",
                "--root-key",
            ],
        ),
        (
            "csr",
            &[
                "--common-name",
                "--client-key",
                "--client-csr",
                "certs/client-csr.pem",
            ],
        ),
        (
            "sign",
            &[
                "--client-csr",
                "--client-cert",
                "certs/client-cert.pem",
                "--sub-key",
            ],
        ),
        (
            "sign_root",
            &["--client-csr", "--client-cert", "--root-key", "--root-cert"],
        ),
        ("self_signed", &["--common-name", "--client-cert"]),
        ("thumbprint", &["--cert"]),
    ];
    for (name, words) in expected {
        let out = run(dir.path(), &[name, "--help"]);
        assert!(out.status.success(), "{name} --help");
        let text = String::from_utf8(out.stdout).unwrap();
        for word in *words {
            assert!(text.contains(word), "{name} --help mentions {word}: {text}");
        }
    }
    // --help writes nothing.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn self_signed_and_thumbprint() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = run_ok(d, &["self_signed", "--common-name", "thumb-dev"]);
    assert!(
        out.contains("certs/private-key.pem generated successfully!"),
        "{out}"
    );
    assert!(
        out.contains("certs/client-cert.pem generated successfully!"),
        "{out}"
    );

    let pem = read_pem(&d.join("certs/client-cert.pem"));
    let leaf = cert(&pem);
    assert_eq!(common_name(&leaf), "thumb-dev");
    assert_issued_by(&leaf, &leaf);
    assert_client(&leaf, None);
    assert_p256(&leaf);
    assert_key_matches(&d.join("certs/private-key.pem"), &leaf);

    let sha1 = cert_tool::thumbprint_sha1(&pem.contents).unwrap();
    let sha256 = cert_tool::thumbprint_sha256(&pem.contents).unwrap();
    assert!(out.contains(&sha1), "{out}");
    assert!(out.contains(&sha256), "{out}");

    let out = common::run(d, &["thumbprint"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text, format!("SHA-1:   {sha1}\nSHA-256: {sha256}\n"));
}

#[test]
fn outputs_are_replaced_on_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_ok(d, &["root_ca"]);
    let first = std::fs::read_to_string(d.join("ca/root-ca-cert.pem")).unwrap();
    run_ok(d, &["root_ca"]);
    let second = std::fs::read_to_string(d.join("ca/root-ca-cert.pem")).unwrap();
    assert_ne!(first, second, "a new key and certificate");
}
