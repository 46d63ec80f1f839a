//! DPS: registration over MQTT, enrollment groups and individual enrollments, failures.

mod common;

use common::*;
use hub_emulator::mqtt::{Connect, Publish};
use hub_emulator::{util, Attestation, Config, EnrollmentGroup, Fault, FaultKind, Status};
use serde_json::{json, Value};
use std::time::Duration;

const T: Duration = Duration::from_secs(5);

fn dps_connect(env: &Env, reg_id: &str, id: Option<&Identity>, password: Option<&str>) -> Client {
    let mut c = Connect::new(reg_id);
    c.username = Some(dps_username(reg_id));
    c.password = password.map(|p| p.as_bytes().to_vec());
    let (mut cl, code) = Client::connect(env.emu.mqtt_addr(), &env.ca_pem(), id, c);
    assert_eq!(code, Some(0), "DPS CONNACK");
    assert_eq!(cl.subscribe(&[("$dps/registrations/res/#", 0)]), vec![0]);
    cl
}

/// (status, topic, body)
fn request(c: &mut Client, topic: &str, payload: &[u8]) -> (u16, String, Value) {
    c.publish(topic, payload, 1);
    let p: Publish = c.expect_publish("$dps/registrations/res/", T);
    let status = p.topic["$dps/registrations/res/".len()..]
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let body = serde_json::from_slice(&p.payload).unwrap();
    (status, p.topic, body)
}

fn register(c: &mut Client, payload: &[u8]) -> (u16, String, Value) {
    request(c, "$dps/registrations/PUT/iotdps-register/?$rid=1", payload)
}

fn poll(c: &mut Client, op: &str) -> (u16, String, Value) {
    request(
        c,
        &format!("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=1&operationId={op}"),
        b"",
    )
}

/// Register, then poll until the status is final. Returns the final body and how many polls
/// answered `assigning`.
fn provision(c: &mut Client, payload: &[u8]) -> (Value, u32) {
    let (status, topic, body) = register(c, payload);
    assert_eq!(status, 202, "{body}");
    assert_eq!(topic_param(&topic, "$rid"), Some("1"));
    assert_eq!(topic_param(&topic, "retry-after"), Some("1"));
    assert_eq!(body["status"], "assigning");
    let op = body["operationId"].as_str().unwrap().to_string();
    assert!(op.starts_with("4."));
    let mut assigning = 0;
    loop {
        let (status, topic, body) = poll(c, &op);
        if status == 202 {
            assert_eq!(body["status"], "assigning");
            assert!(topic_param(&topic, "retry-after").is_some());
            assigning += 1;
            assert!(assigning < 10);
            continue;
        }
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["operationId"], op.as_str());
        return (body, assigning);
    }
}

#[test]
fn ca_enrollment_group_assigns_and_creates_the_device() {
    let env = start();
    env.svc.create_ca_enrollment_group("fleet", "root").unwrap();
    let id = env.ca.issue("dps-dev-1");
    let mut c = dps_connect(&env, "dps-dev-1", Some(&id), None);
    // nRF sends an empty register payload.
    let (body, assigning) = provision(&mut c, b"");
    assert_eq!(assigning, 1, "default: one `assigning` poll");
    assert_eq!(body["status"], "assigned");
    let rs = &body["registrationState"];
    assert_eq!(rs["registrationId"], "dps-dev-1");
    assert_eq!(rs["assignedHub"], "localhost");
    assert_eq!(rs["deviceId"], "dps-dev-1");
    assert_eq!(rs["status"], "assigned");
    assert_eq!(rs["substatus"], "initialAssignment");
    for k in ["createdDateTimeUtc", "lastUpdatedDateTimeUtc", "etag"] {
        assert!(rs[k].is_string(), "{k}");
    }
    // The device now exists and connects to the hub with the same certificate.
    assert_eq!(
        env.svc
            .get_device("dps-dev-1")
            .unwrap()
            .authentication
            .kind(),
        "certificateAuthority"
    );
    let (_h, code) = env.connect_device("dps-dev-1", Some(&id), None, 60);
    assert_eq!(code, Some(0));
    // Registering again is fine (the device is kept).
    let (body, _) = provision(
        &mut c,
        br#"{"registrationId":"dps-dev-1","payload":{"modelId":"x"}}"#,
    );
    assert_eq!(body["status"], "assigned");
    // The registration payload comes back in registrationState.payload (no allocation webhook:
    // echoed); without one there is none.
    assert_eq!(
        body["registrationState"]["payload"],
        json!({"modelId": "x"})
    );
    let (body, _) = provision(&mut c, b"");
    assert!(body["registrationState"].get("payload").is_none());
    // A conn listing shows DPS connections.
    assert!(env
        .svc
        .connections()
        .unwrap()
        .iter()
        .any(|c| c.kind == "dps" && c.device_id == "dps-dev-1"));
}

#[test]
fn assigning_polls_and_retry_after_are_configurable() {
    let mut cfg = Config::temp();
    cfg.dps_assigning_polls = 3;
    cfg.dps_retry_after_secs = 1;
    let env = start_with(cfg);
    env.svc.create_ca_enrollment_group("fleet", "root").unwrap();
    let mut c = dps_connect(&env, "slow", Some(&env.ca.issue("slow")), None);
    let (body, assigning) = provision(&mut c, b"");
    assert_eq!(assigning, 3);
    assert_eq!(body["status"], "assigned");
}

#[test]
fn unknown_device_gets_401() {
    let env = start();
    let other = Ca::new("Unregistered");
    let mut c = dps_connect(&env, "stranger", Some(&other.issue("stranger")), None);
    let (status, _, body) = register(&mut c, b"");
    assert_eq!(status, 401);
    assert_eq!(body["errorCode"], 401002);
    for k in ["trackingId", "message", "timestampUtc"] {
        assert!(body[k].is_string(), "{k}");
    }
    // CN ≠ registration ID is not attested either.
    env.svc.create_ca_enrollment_group("fleet", "root").unwrap();
    let mut c = dps_connect(&env, "reg-a", Some(&env.ca.issue("reg-b")), None);
    assert_eq!(register(&mut c, b"").0, 401);
}

#[test]
fn disabled_enrollment_ends_disabled() {
    let env = start();
    env.svc
        .put_enrollment_group(
            "off",
            &EnrollmentGroup {
                enrollment_group_id: String::new(),
                attestation: Attestation::X509Ca {
                    ca_name: "root".into(),
                },
                provisioning_status: Status::Disabled,
                initial_twin: None,
                etag: String::new(),
            },
        )
        .unwrap();
    let mut c = dps_connect(&env, "d1", Some(&env.ca.issue("d1")), None);
    let (body, _) = provision(&mut c, b"");
    assert_eq!(body["status"], "disabled");
    assert!(body["registrationState"]["errorCode"].is_u64());
    assert!(body["registrationState"]["errorMessage"].is_string());
    assert!(env.svc.get_device("d1").is_err(), "no device created");
}

#[test]
fn forced_failure_and_throttling() {
    let env = start();
    env.svc.create_ca_enrollment_group("fleet", "root").unwrap();
    let mut f = Fault::new(FaultKind::DpsFail);
    f.error_code = Some(400209);
    let added = env.svc.add_fault(&f).unwrap();
    let mut c = dps_connect(&env, "f1", Some(&env.ca.issue("f1")), None);
    let (body, _) = provision(&mut c, b"");
    assert_eq!(body["status"], "failed");
    assert_eq!(body["registrationState"]["errorCode"], 400209);
    env.svc.clear_fault(added.id).unwrap();

    env.svc
        .add_fault(&Fault::new(FaultKind::Throttle).for_device("f1"))
        .unwrap();
    let (status, topic, body) = register(&mut c, b"");
    assert_eq!(status, 429);
    assert!(topic_param(&topic, "retry-after").is_some());
    assert_eq!(body["errorCode"], 429001);
    env.svc.clear_faults().unwrap();
    let (body, _) = provision(&mut c, b"");
    assert_eq!(body["status"], "assigned");
}

#[test]
fn individual_enrollments_thumbprint_and_symmetric_key() {
    let env = start();
    // X.509 thumbprint, assigned under another device ID.
    let cert = self_signed("ind-1");
    let mut e = env
        .svc
        .create_enrollment(
            "ind-1",
            Attestation::X509Thumbprint {
                primary_thumbprint: util::sha1_thumbprint(cert.leaf_der()),
                secondary_thumbprint: None,
            },
        )
        .unwrap();
    e.device_id = Some("ind-device-1".into());
    e.initial_twin = Some(json!({"interval": 30}));
    env.svc.put_enrollment("ind-1", &e).unwrap();
    let mut c = dps_connect(&env, "ind-1", Some(&cert), None);
    let (body, _) = provision(&mut c, b"");
    assert_eq!(body["registrationState"]["deviceId"], "ind-device-1");
    assert_eq!(
        env.svc.get_twin("ind-device-1").unwrap().properties.desired["interval"],
        30
    );
    // A different certificate for the same registration → 401.
    let mut c = dps_connect(&env, "ind-1", Some(&self_signed("ind-1")), None);
    assert_eq!(register(&mut c, b"").0, 401);

    // Symmetric key: SAS with skn=registration, lower-case %2f like azure-sdk-for-c.
    let e = env
        .svc
        .create_enrollment(
            "sym-1",
            Attestation::SymmetricKey {
                primary_key: String::new(),
                secondary_key: String::new(),
            },
        )
        .unwrap();
    let Attestation::SymmetricKey { primary_key, .. } = e.attestation else {
        panic!()
    };
    let sr = "0ne00000000%2fregistrations%2fsym-1";
    let se = util::unix_now() + 600;
    let sig = util::hmac_b64(&primary_key, format!("{sr}\n{se}").as_bytes()).unwrap();
    let token = format!(
        "SharedAccessSignature sr={sr}&sig={}&se={se}&skn=registration",
        util::url_encode(&sig)
    );
    let mut c = dps_connect(&env, "sym-1", None, Some(&token));
    let (body, _) = provision(&mut c, br#"{"registrationId":"sym-1"}"#);
    assert_eq!(body["status"], "assigned");
    // The hub device uses the same key.
    let hub_token = util::sas_token("localhost/devices/sym-1", &primary_key, se, None);
    let (_h, code) = env.connect_device("sym-1", None, Some(&hub_token), 60);
    assert_eq!(code, Some(0));
    // A bad key → 401.
    let bad = util::sas_token(
        "0ne00000000/registrations/sym-1",
        &util::random_key(),
        se,
        Some("registration"),
    );
    let mut c = dps_connect(&env, "sym-1", None, Some(&bad));
    assert_eq!(register(&mut c, b"").0, 401);
}

#[test]
fn symmetric_key_group_derives_device_keys() {
    let env = start();
    let group_key = util::random_key();
    env.svc
        .put_enrollment_group(
            "symgroup",
            &EnrollmentGroup {
                enrollment_group_id: String::new(),
                attestation: Attestation::SymmetricKey {
                    primary_key: group_key.clone(),
                    secondary_key: String::new(),
                },
                provisioning_status: Status::Enabled,
                initial_twin: None,
                etag: String::new(),
            },
        )
        .unwrap();
    let dev_key = util::derive_device_key(&group_key, "gdev").unwrap();
    let token = util::sas_token(
        "0ne00000000/registrations/gdev",
        &dev_key,
        util::unix_now() + 600,
        Some("registration"),
    );
    let mut c = dps_connect(&env, "gdev", None, Some(&token));
    let (body, _) = provision(&mut c, b"");
    assert_eq!(body["status"], "assigned");
}

#[test]
fn dps_rules_scope_subscription_and_topics() {
    let env = start();
    env.svc.create_ca_enrollment_group("fleet", "root").unwrap();
    let id = env.ca.issue("r1");
    // Wrong ID scope → not authorized.
    let mut conn = Connect::new("r1");
    conn.username = Some("0ne99999999/registrations/r1/api-version=2019-03-31".into());
    let (_c, code) = Client::connect(env.emu.mqtt_addr(), &env.ca_pem(), Some(&id), conn);
    assert_eq!(code, Some(5));
    // Client ID ≠ registration ID → identifier rejected.
    let mut conn = Connect::new("r2");
    conn.username = Some(dps_username("r1"));
    let (_c, code) = Client::connect(env.emu.mqtt_addr(), &env.ca_pem(), Some(&id), conn);
    assert_eq!(code, Some(2));
    // No response before subscribing to $dps/registrations/res/#.
    let mut conn = Connect::new("r1");
    conn.username = Some(dps_username("r1"));
    let (mut c, code) = Client::connect(env.emu.mqtt_addr(), &env.ca_pem(), Some(&id), conn);
    assert_eq!(code, Some(0));
    c.publish("$dps/registrations/PUT/iotdps-register/?$rid=1", b"", 1);
    assert!(c.recv(Duration::from_millis(300)).is_none());
    assert_eq!(c.subscribe(&[("$dps/registrations/res/#", 2)]), vec![1]);
    // Hub topics are foreign on a DPS connection.
    c.publish("devices/r1/messages/events/", b"x", 0);
    assert!(c.closed_within(T));
    // Unknown operation → 404; malformed payload → 400.
    let mut c = dps_connect(&env, "r1", Some(&id), None);
    assert_eq!(poll(&mut c, "4.nope").0, 404);
    assert_eq!(register(&mut c, b"not json").0, 400);
    assert_eq!(register(&mut c, br#"{"registrationId":"other"}"#).0, 400);
}
