//! Device authentication on the hub: X.509 CA-signed, thumbprint, SAS, and the CONNECT rules.

mod common;

use common::*;
use hub_emulator::mqtt::{Connect, Packet};
use hub_emulator::{util, Authentication, Status};
use std::time::Duration;

const T: Duration = Duration::from_secs(5);

#[test]
fn ca_signed_device_is_accepted_and_listed_as_connected() {
    let env = start();
    env.svc.create_x509_ca_device("dev-ca").unwrap();
    let id = env.ca.issue("dev-ca");
    let (_c, code) = env.connect_device("dev-ca", Some(&id), None, 60);
    assert_eq!(code, Some(0));
    assert!(env.svc.is_connected("dev-ca").unwrap());
    let conns = env.svc.connections().unwrap();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].device_id, "dev-ca");
    assert_eq!(conns[0].kind, "hub");
    assert!(conns[0].auth.contains("root"), "{}", conns[0].auth);
}

#[test]
fn chain_with_intermediate_is_accepted() {
    let env = start();
    let inter = env.ca.intermediate("Intermediate");
    let mut id = inter.issue("dev-int");
    id.chain.push(inter.cert_der.clone());
    env.svc.create_x509_ca_device("dev-int").unwrap();
    let (_c, code) = env.connect_device("dev-int", Some(&id), None, 60);
    assert_eq!(code, Some(0));
    // Without the intermediate in the chain there is no path to the root.
    let lone = inter.issue("dev-int");
    let (_c, code) = env.connect_device("dev-int", Some(&lone), None, 60);
    assert_eq!(code, Some(5));
}

#[test]
fn wrong_ca_is_refused() {
    let env = start();
    env.svc.create_x509_ca_device("dev1").unwrap();
    let other = Ca::new("Some Other CA");
    let (_c, code) = env.connect_device("dev1", Some(&other.issue("dev1")), None, 60);
    assert_eq!(code, Some(5));
    assert!(!env.svc.is_connected("dev1").unwrap());
}

#[test]
fn unverified_ca_is_refused_until_proof_of_possession() {
    let env = start();
    let ca2 = Ca::new("Second CA");
    let reg = env.svc.register_ca("second", &ca2.cert_pem, false).unwrap();
    assert!(!reg.is_verified);
    assert_eq!(reg.thumbprint, util::sha1_thumbprint(&ca2.cert_der));
    env.svc.create_x509_ca_device("dev2").unwrap();
    let dev = ca2.issue("dev2");
    let (_c, code) = env.connect_device("dev2", Some(&dev), None, 60);
    assert_eq!(code, Some(5), "an unverified CA authenticates nobody");

    // Proof of possession: a certificate signed by the CA whose CN is the code.
    let err = env
        .svc
        .verify_ca("second", &ca2.issue("whatever").cert_pem)
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "no code generated yet");
    let code_str = env.svc.ca_verification_code("second").unwrap();
    assert!(code_str.len() >= 16);
    let wrong_cn = env
        .svc
        .verify_ca("second", &ca2.issue("not-the-code").cert_pem)
        .unwrap_err();
    assert_eq!(wrong_cn.status(), Some(400));
    let wrong_signer = env
        .svc
        .verify_ca("second", &env.ca.issue(&code_str).cert_pem)
        .unwrap_err();
    assert_eq!(wrong_signer.status(), Some(400));
    let ok = env
        .svc
        .verify_ca("second", &ca2.issue(&code_str).cert_pem)
        .unwrap();
    assert!(ok.is_verified);

    let (_c, code) = env.connect_device("dev2", Some(&dev), None, 60);
    assert_eq!(code, Some(0));

    // Deleting the CA stops new connections.
    env.svc.delete_ca("second").unwrap();
    let (_c, code) = env.connect_device("dev2", Some(&ca2.issue("dev2")), None, 60);
    assert_eq!(code, Some(5));
    assert_eq!(env.svc.list_cas().unwrap().len(), 1);
}

#[test]
fn cn_other_than_device_id_is_refused() {
    let env = start();
    env.svc.create_x509_ca_device("dev1").unwrap();
    let (_c, code) = env.connect_device("dev1", Some(&env.ca.issue("dev9")), None, 60);
    assert_eq!(code, Some(5));
}

#[test]
fn client_id_other_than_user_name_device_is_identifier_rejected() {
    let env = start();
    env.svc.create_x509_ca_device("dev1").unwrap();
    let id = env.ca.issue("dev1");
    let mut c = Connect::new("someone-else");
    c.username = Some(hub_username("dev1"));
    let (_c, code) = Client::connect(env.emu.mqtt_addr(), &env.ca_pem(), Some(&id), c);
    assert_eq!(code, Some(2));
}

#[test]
fn unknown_or_disabled_device_is_not_authorized() {
    let env = start();
    let (_c, code) = env.connect_device("ghost", Some(&env.ca.issue("ghost")), None, 60);
    assert_eq!(code, Some(5));
    env.svc
        .put_device(
            "off",
            &hub_emulator::DeviceSpec {
                authentication: Authentication::CertificateAuthority,
                status: Status::Disabled,
            },
        )
        .unwrap();
    let (_c, code) = env.connect_device("off", Some(&env.ca.issue("off")), None, 60);
    assert_eq!(code, Some(5));
    // Enabling lets it in; disabling again drops the live connection.
    env.svc.set_device_status("off", Status::Enabled).unwrap();
    let (mut c, code) = env.connect_device("off", Some(&env.ca.issue("off")), None, 60);
    assert_eq!(code, Some(0));
    env.svc.set_device_status("off", Status::Disabled).unwrap();
    assert!(c.closed_within(T));
}

#[test]
fn no_certificate_and_no_password_is_refused() {
    let env = start();
    env.svc.create_x509_ca_device("dev1").unwrap();
    let (_c, code) = env.connect_device("dev1", None, None, 60);
    assert_eq!(code, Some(5));
}

#[test]
fn expired_certificate_is_refused() {
    let env = start();
    env.svc.create_x509_ca_device("old").unwrap();
    let (_c, code) = env.connect_device("old", Some(&env.ca.issue_expired("old")), None, 60);
    assert_eq!(code, Some(5));
}

#[test]
fn self_signed_by_thumbprint() {
    let env = start();
    let cert = self_signed("selfie");
    let sha1 = util::sha1_thumbprint(cert.leaf_der());
    let sha256 = util::sha256_thumbprint(cert.leaf_der());
    // SHA-1, written with colons and lower case, as primary.
    let colons = sha1
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap().to_lowercase())
        .collect::<Vec<_>>()
        .join(":");
    env.svc
        .create_device(
            "selfie",
            Authentication::SelfSigned {
                primary_thumbprint: colons,
                secondary_thumbprint: None,
            },
        )
        .unwrap();
    let (_c, code) = env.connect_device("selfie", Some(&cert), None, 60);
    assert_eq!(code, Some(0));
    // SHA-256 as secondary.
    env.svc
        .create_device(
            "selfie2",
            Authentication::SelfSigned {
                primary_thumbprint: "00".repeat(20),
                secondary_thumbprint: Some(sha256),
            },
        )
        .unwrap();
    let (_c, code) = env.connect_device("selfie2", Some(&self_signed("selfie2")), None, 60);
    assert_eq!(code, Some(5), "another certificate");
    let (_c, code) = env.connect_device("selfie2", Some(&cert), None, 60);
    assert_eq!(code, Some(0), "matching SHA-256 secondary thumbprint");
}

fn sas_key(env: &Env, id: &str) -> String {
    match env.svc.create_sas_device(id).unwrap().authentication {
        Authentication::Sas { primary_key, .. } => primary_key,
        other => panic!("{other:?}"),
    }
}

#[test]
fn sas_valid_expired_wrong_key() {
    let env = start();
    let key = sas_key(&env, "sas1");
    let resource = "localhost/devices/sas1";
    let good = util::sas_token(resource, &key, util::unix_now() + 3600, None);
    let (_c, code) = env.connect_device("sas1", None, Some(&good), 60);
    assert_eq!(code, Some(0));

    let expired = util::sas_token(resource, &key, util::unix_now() - 10, None);
    let (_c, code) = env.connect_device("sas1", None, Some(&expired), 60);
    assert_eq!(code, Some(5));

    let wrong = util::sas_token(resource, &util::random_key(), util::unix_now() + 3600, None);
    let (_c, code) = env.connect_device("sas1", None, Some(&wrong), 60);
    assert_eq!(code, Some(5));

    let other_res = util::sas_token(
        "localhost/devices/other",
        &key,
        util::unix_now() + 3600,
        None,
    );
    let (_c, code) = env.connect_device("sas1", None, Some(&other_res), 60);
    assert_eq!(code, Some(5));

    let (_c, code) = env.connect_device("sas1", None, Some("garbage"), 60);
    assert_eq!(code, Some(5));
    let (_c, code) = env.connect_device("sas1", None, None, 60);
    assert_eq!(code, Some(5));
}

#[test]
fn sas_with_given_keys_and_secondary_key() {
    let env = start();
    let (k1, k2) = (util::random_key(), util::random_key());
    env.svc
        .create_device(
            "sas2",
            Authentication::Sas {
                primary_key: k1.clone(),
                secondary_key: k2.clone(),
            },
        )
        .unwrap();
    let t = util::sas_token("localhost/devices/sas2", &k2, util::unix_now() + 60, None);
    let (_c, code) = env.connect_device("sas2", None, Some(&t), 60);
    assert_eq!(code, Some(0));
}

#[test]
fn sas_connection_closes_when_the_token_expires() {
    let env = start();
    let key = sas_key(&env, "sas3");
    let t = util::sas_token("localhost/devices/sas3", &key, util::unix_now() + 2, None);
    let (mut c, code) = env.connect_device("sas3", None, Some(&t), 60);
    assert_eq!(code, Some(0));
    assert!(c.closed_within(Duration::from_secs(4)));
}

#[test]
fn a_new_connection_drops_the_old_one() {
    let env = start();
    env.svc.create_x509_ca_device("twice").unwrap();
    let id = env.ca.issue("twice");
    let (mut first, code) = env.connect_device("twice", Some(&id), None, 60);
    assert_eq!(code, Some(0));
    let (mut second, code) = env.connect_device("twice", Some(&id), None, 60);
    assert_eq!(code, Some(0));
    assert!(first.closed_within(T));
    second.send(&Packet::Pingreq).unwrap();
    assert_eq!(second.recv(T), Some(Packet::Pingresp));
    assert!(env.svc.is_connected("twice").unwrap());
}

#[test]
fn module_identities_and_bad_protocol_levels_are_refused() {
    let env = start();
    env.svc.create_x509_ca_device("dev1").unwrap();
    let id = env.ca.issue("dev1");
    let mut c = Connect::new("dev1");
    c.username = Some("localhost/dev1/mod1/?api-version=2020-09-30".into());
    let (_c, code) = Client::connect(env.emu.mqtt_addr(), &env.ca_pem(), Some(&id), c);
    assert_eq!(code, Some(5));
    let mut c = Connect::new("dev1");
    c.username = Some(hub_username("dev1"));
    c.protocol_level = 3;
    let (_c, code) = Client::connect(env.emu.mqtt_addr(), &env.ca_pem(), Some(&id), c);
    assert_eq!(code, Some(1));
    let c = Connect::new("dev1");
    let (_c, code) = Client::connect(env.emu.mqtt_addr(), &env.ca_pem(), Some(&id), c);
    assert_eq!(code, Some(4), "no user name");
}

#[test]
fn garbage_before_connect_closes_the_connection() {
    let env = start();
    let mut c = Client::open(env.emu.mqtt_addr(), &env.ca_pem(), None).unwrap();
    c.send_raw(&[0x40, 0x00]).unwrap();
    assert!(c.closed_within(T));
    let mut c = Client::open(env.emu.mqtt_addr(), &env.ca_pem(), None).unwrap();
    // A PUBLISH first instead of CONNECT.
    c.send_raw(&[0x30, 0x03, 0x00, 0x01, b'a']).unwrap();
    assert!(c.closed_within(T));
}
