//! Heartbeats both ways, over a raw socket: the broker sends them on an idle connection, and it
//! drops a peer that stays silent for two intervals.

mod common;

use common::raw::RawClient;
use common::start;
use tokio::io::AsyncWriteExt;
use warren_amqp::Frame;

#[tokio::test]
async fn broker_sends_heartbeats_on_an_idle_connection() {
    let server = start().await;
    let mut c = RawClient::connect(server.addr).await;
    c.handshake(1).await;
    // keep our side alive, and wait for the broker's heartbeats
    let mut seen = 0;
    while seen < 2 {
        let mut hb = bytes::BytesMut::new();
        warren_amqp::encode_heartbeat_frame(&mut hb);
        c.sock.write_all(&hb).await.unwrap();
        match c.frame().await {
            Some(Frame::Heartbeat { channel: 0 }) => seen += 1,
            other => panic!("expected a heartbeat, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_silent_peer_is_disconnected_after_two_missed_heartbeats() {
    let server = start().await;
    let mut c = RawClient::connect(server.addr).await;
    c.handshake(1).await;
    // Say nothing: read (the broker's heartbeats) until the broker hangs up.
    let mut heartbeats = 0;
    loop {
        match c.frame().await {
            Some(Frame::Heartbeat { .. }) => heartbeats += 1,
            Some(other) => panic!("unexpected frame {other:?}"),
            None => break,
        }
    }
    assert!(
        heartbeats >= 1,
        "the broker sent heartbeats before giving up"
    );
}

#[tokio::test]
async fn heartbeat_zero_disables_them() {
    let server = start().await;
    let mut c = RawClient::connect(server.addr).await;
    c.handshake(0).await;
    let r = tokio::time::timeout(std::time::Duration::from_millis(2500), c.frame()).await;
    assert!(
        r.is_err(),
        "no frame expected with heartbeats off, got {r:?}"
    );
}
