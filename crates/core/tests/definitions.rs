//! Definitions in RabbitMQ's export format: a real RabbitMQ 3.10.8 export imports, routes, and
//! survives an export/import round trip.

use std::sync::Arc;

use bytes::Bytes;
use warren_amqp::{RawProperties, Route, ShortStr};
use warren_core::{Broker, Definitions, Limits, Message};

const RABBITMQ_EXPORT: &str = include_str!("fixtures/rabbitmq-3.10.8-definitions.json");

fn routed_queues(b: &Broker, exchange: &str, key: &str) -> Vec<String> {
    let v = b.vhost("/").unwrap();
    let x = v.exchange(exchange).unwrap();
    let mut out = Vec::new();
    v.route(&x, key, &RawProperties::default(), &mut out);
    let mut names: Vec<String> = out.iter().map(|q| q.name.to_string()).collect();
    names.sort();
    names
}

#[test]
fn a_rabbitmq_export_imports_and_routes() {
    let d = Definitions::from_json(RABBITMQ_EXPORT).unwrap();
    let b = Broker::new(Limits::default());
    b.import_definitions(&d).unwrap();
    assert!(b.vhost("staging").is_some(), "vhosts are created");
    let v = b.vhost("/").unwrap();
    let eu = v.queue("orders.eu", 1).unwrap();
    assert!(eu.durable);
    assert_eq!(
        eu.arguments.get("x-message-ttl").and_then(|x| x.as_i64()),
        Some(60000)
    );
    assert_eq!(
        routed_queues(&b, "orders", "eu.de"),
        ["orders.all", "orders.eu"]
    );
    assert_eq!(routed_queues(&b, "orders", "us.ny"), ["orders.all"]);
    assert_eq!(
        routed_queues(&b, "orders", "x"),
        ["orders.all", "transient-q"]
    );
    let audit = v.exchange("audit").unwrap();
    assert_eq!(
        audit
            .arguments
            .get("alternate-exchange")
            .and_then(|x| x.as_str()),
        Some("unrouted")
    );
    // a message flows through the imported topology
    let m = Message::new(
        Route::new("orders", "eu.fr").unwrap(),
        RawProperties::default(),
        Bytes::from_static(b"hi"),
    );
    let x = v.exchange("orders").unwrap();
    assert_eq!(v.publish(&x, m, &mut Vec::new()), 2);
    assert_eq!(eu.message_count(), 1);
}

#[test]
fn export_keeps_durable_things_and_what_warren_does_not_interpret() {
    let d = Definitions::from_json(RABBITMQ_EXPORT).unwrap();
    let b = Broker::new(Limits::default());
    b.import_definitions(&d).unwrap();
    let out = b.export_definitions();
    let names = |v: &[warren_core::definitions::QueueDef]| {
        v.iter().map(|q| q.name.clone()).collect::<Vec<_>>()
    };
    assert_eq!(
        names(&out.queues),
        ["orders.all", "orders.eu"],
        "transient queues are not exported"
    );
    let xs: Vec<&str> = out.exchanges.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(xs, ["audit", "orders", "unrouted"]);
    assert_eq!(
        out.bindings.len(),
        3,
        "bindings to transient queues are not exported"
    );
    // users (hashes included) and permissions come back unchanged (sorted by name)
    let mut users = d.users.clone();
    users.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(out.users, users);
    let mut perms = d.permissions.clone();
    perms.sort_by(|a, b| (&a.user, &a.vhost).cmp(&(&b.user, &b.vhost)));
    assert_eq!(out.permissions, perms);
    assert!(!out.users.is_empty() && !out.permissions.is_empty());
    // and an export imports into a fresh broker to the same export
    let b2 = Broker::new(Limits::default());
    b2.import_definitions(&Definitions::from_json(&out.to_json()).unwrap())
        .unwrap();
    assert_eq!(b2.export_definitions(), out);
}

#[test]
fn conflicting_definitions_are_refused_with_the_object_named() {
    let b = Broker::new(Limits::default());
    b.import_definitions(&Definitions::from_json(RABBITMQ_EXPORT).unwrap())
        .unwrap();
    let bad = r#"{"exchanges":[{"name":"orders","vhost":"/","type":"fanout","durable":true,"auto_delete":false,"internal":false,"arguments":{}}]}"#;
    let e = b
        .import_definitions(&Definitions::from_json(bad).unwrap())
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("exchange 'orders'") && msg.contains("inequivalent arg 'type'"),
        "{msg}"
    );
}

#[test]
fn save_is_atomic_and_load_reads_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("definitions.json");
    assert_eq!(
        Definitions::load(&path).unwrap(),
        Definitions::default(),
        "missing file = empty"
    );
    let d = Definitions::from_json(RABBITMQ_EXPORT).unwrap();
    d.save(&path).unwrap();
    assert!(
        !path.with_extension("json.tmp").exists(),
        "no temp file left behind"
    );
    assert_eq!(Definitions::load(&path).unwrap(), d);
    std::fs::write(&path, "{ not json").unwrap();
    assert!(Definitions::load(&path).is_err());
}

#[test]
fn concurrent_durable_changes_all_reach_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("definitions.json");
    let b = Arc::new(Broker::new(Limits::default()));
    b.persist_definitions_to(path.clone());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let b = b.clone();
            let path = path.clone();
            std::thread::spawn(move || {
                let v = b.vhost("/").unwrap();
                for i in 0..25 {
                    v.declare_queue(
                        0,
                        &warren_amqp::QueueDeclare {
                            queue: ShortStr::try_from(format!("q-{t}-{i}")).unwrap(),
                            passive: false,
                            durable: true,
                            exclusive: false,
                            auto_delete: false,
                            no_wait: false,
                            arguments: Default::default(),
                        },
                    )
                    .unwrap();
                    // As a channel does before its declare-ok: the file must have the queue
                    // when this returns, whoever wrote it.
                    b.definitions_changed();
                    let saved = Definitions::load(&path).unwrap();
                    let name = format!("q-{t}-{i}");
                    assert!(
                        saved.queues.iter().any(|q| q.name == name),
                        "{name} missing from the file after definitions_changed returned"
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(Definitions::load(&path).unwrap().queues.len(), 200);
}
