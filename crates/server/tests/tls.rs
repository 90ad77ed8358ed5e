//! Client certificates on AMQPS, with lapin (rustls) as the client and certificates made by
//! rcgen: with a client CA and `verify_peer` (required), a client without a certificate and
//! one whose certificate another CA signed are refused, one the CA signed gets in; in optional
//! mode a client without a certificate gets in too, a rogue certificate still does not.

mod common;

use std::sync::Arc;

use common::within;
use lapin::options::QueueDeclareOptions;
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use warren_server::RunningServer;

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    Ca { cert, key }
}

/// A leaf certificate signed by `ca` and its key.
fn leaf(ca: &Ca, name: &str, usage: ExtendedKeyUsagePurpose) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![usage];
    let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    (cert, key)
}

/// A client identity for lapin: PKCS#12 with the certificate and its key.
fn identity(cert: &rcgen::Certificate, key: &KeyPair) -> OwnedIdentity {
    let chain = vec![p12_keystore::Certificate::from_der(cert.der()).unwrap()];
    let entry = p12_keystore::PrivateKeyChain::new(key.serialize_der(), [7u8; 20], chain);
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry(
        "client",
        p12_keystore::KeyStoreEntry::PrivateKeyChain(entry),
    );
    OwnedIdentity {
        der: store.writer("pw").write().unwrap(),
        password: "pw".to_string(),
    }
}

struct Pki {
    server_ca: Ca,
    server: (rcgen::Certificate, KeyPair),
    client_ca: Ca,
    good: OwnedIdentity,
    rogue: OwnedIdentity,
}

fn pki() -> Pki {
    let server_ca = ca("Warren test server CA");
    let server = leaf(&server_ca, "localhost", ExtendedKeyUsagePurpose::ServerAuth);
    let client_ca = ca("Warren test client CA");
    let (c, k) = leaf(&client_ca, "app", ExtendedKeyUsagePurpose::ClientAuth);
    let good = identity(&c, &k);
    // Same name, but signed by a CA the broker does not trust.
    let rogue_ca = ca("Warren test client CA");
    let (c, k) = leaf(&rogue_ca, "app", ExtendedKeyUsagePurpose::ClientAuth);
    let rogue = identity(&c, &k);
    Pki {
        server_ca,
        server,
        client_ca,
        good,
        rogue,
    }
}

async fn amqps_server(pki: &Pki, require_client_cert: bool) -> RunningServer {
    let config = warren_server::tls::server_config(
        pki.server.0.pem().as_bytes(),
        pki.server.1.serialize_pem().as_bytes(),
        Some(pki.client_ca.cert.pem().as_bytes()),
        require_client_cert,
    )
    .unwrap();
    let broker = Arc::new(warren_core::Broker::new(Default::default()));
    RunningServer::start_tls("127.0.0.1:0", broker, config)
        .await
        .unwrap()
}

/// Connects over AMQPS as guest (optionally presenting `identity`) and declares a queue.
async fn connect(
    server: &RunningServer,
    pki: &Pki,
    identity: Option<&OwnedIdentity>,
) -> lapin::Result<()> {
    let url = format!("amqps://guest:guest@localhost:{}/%2f", server.addr.port());
    let tls = OwnedTLSConfig {
        identity: identity.map(|i| OwnedIdentity {
            der: i.der.clone(),
            password: i.password.clone(),
        }),
        cert_chain: Some(pki.server_ca.cert.pem()),
    };
    let conn = within(Connection::connect_with_config(
        &url,
        ConnectionProperties::default(),
        tls,
    ))
    .await?;
    let ch = within(conn.create_channel()).await?;
    within(ch.queue_declare(
        "tls-q",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await?;
    Ok(())
}

#[tokio::test]
async fn required_client_certificates() {
    let pki = pki();
    let server = amqps_server(&pki, true).await;
    assert!(
        connect(&server, &pki, None).await.is_err(),
        "no client certificate"
    );
    assert!(
        connect(&server, &pki, Some(&pki.rogue)).await.is_err(),
        "a certificate from another CA"
    );
    connect(&server, &pki, Some(&pki.good))
        .await
        .expect("a certificate the client CA signed");
}

#[tokio::test]
async fn optional_client_certificates() {
    let pki = pki();
    let server = amqps_server(&pki, false).await;
    connect(&server, &pki, None)
        .await
        .expect("no certificate is fine when optional");
    connect(&server, &pki, Some(&pki.good))
        .await
        .expect("a certificate the client CA signed");
    assert!(
        connect(&server, &pki, Some(&pki.rogue)).await.is_err(),
        "a certificate that is presented is verified even when optional"
    );
}
