//! connection.update-secret on a connection that logged in with a password, as RabbitMQ 3.10.8's
//! internal backend answers it: its credentials do not expire, so `rabbit_access_control:
//! update_state` skips it and any new secret gets update-secret-ok, the connection keeping its
//! user and permissions. (Token logins are checked in jwt.rs.)
//!
//! Runs against RabbitMQ too: `COMPARE_AMQP_URL=amqp://guest:guest@HOST:PORT/%2f`, with user
//! `u` (password `p`) allowed `^u-` for all three permissions:
//! `rabbitmqctl add_user u p && rabbitmqctl set_permissions -p / u '^u-' '^u-' '^u-'`.

mod common;

use common::{amqp_url, start, within};
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};

async fn declare(conn: &Connection, name: &str) -> Result<(), u16> {
    let ch = within(conn.create_channel()).await.expect("a channel");
    let r = within(ch.queue_declare(
        name,
        QueueDeclareOptions {
            exclusive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await;
    match r {
        Ok(_) => {
            within(ch.close(200, "done")).await.expect("channel closes");
            Ok(())
        }
        Err(lapin::Error::ProtocolError(e)) => Err(e.get_id()),
        Err(e) => panic!("expected declare-ok or a channel error, got {e:?}"),
    }
}

#[tokio::test]
async fn any_secret_is_accepted_after_a_password_login_and_changes_nothing() {
    let server = start().await;
    let db = server.broker.auth();
    db.add_user("u", "p", &[]).unwrap();
    db.set_permissions("u", "/", "^u-", "^u-", "^u-").unwrap();
    let url = amqp_url(&server);
    let pid = std::process::id();
    for (login, allowed, refused) in [
        (url.clone(), format!("us-guest-{pid}"), None),
        (
            url.replacen("guest:guest@", "u:p@", 1),
            format!("u-us-{pid}"),
            Some(format!("us-other-{pid}")),
        ),
    ] {
        let conn = within(Connection::connect(&login, ConnectionProperties::default()))
            .await
            .expect("password login");
        // Not the password, the password, an empty one, and something shaped like a token.
        for secret in ["not-the-password", "p", "", "eyJhbGciOiJIUzI1NiJ9.e30.c2ln"] {
            within(conn.update_secret(secret, "rotation"))
                .await
                .unwrap_or_else(|e| panic!("update-secret {secret:?} on {login}: {e:?}"));
        }
        // Same user, same permissions.
        assert_eq!(declare(&conn, &allowed).await, Ok(()), "{login}");
        if let Some(name) = refused {
            assert_eq!(declare(&conn, &name).await, Err(403), "{login}");
        }
        within(conn.close(200, "done")).await.expect("closes");
    }
}
