//! Tests that run the `grader` binary as a child process: a worker killed with SIGKILL in the
//! middle of a job, and the user management commands.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use grader::protocol::{JOBS_QUEUE, RESULTS_QUEUE};
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;

fn grader_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_grader"))
}

/// Kills the child when dropped (a failing test must not leave a worker spinning).
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `(ready messages, consumers)` of a queue, asked with a passive declare.
async fn queue_counts(amqp: &str, queue: &str) -> (u32, u32) {
    let conn = lapin::Connection::connect(amqp, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let q = ch
        .queue_declare(
            queue,
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let counts = (q.message_count(), q.consumer_count());
    let _ = conn.close(200, "bye").await;
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_killed_mid_job_loses_nothing() {
    let broker = start_broker().await;
    let amqp = amqp_url(&broker);
    let dir = tempfile::tempdir().unwrap();
    add_users(dir.path());
    let service = start_service(&amqp, dir.path()).await;
    let api = Api::new(&service);
    let tina = api.login("tina").await;
    let assignment = api
        .create_assignment(&tina, "Times ten", &TIMES10_CASES)
        .await;
    let sam = api.login("sam").await;

    // A worker process whose step limit is so high that this program keeps it busy until
    // it is killed.
    let child = grader_bin()
        .args(["worker", "--amqp", &amqp, "--concurrency", "1"])
        .args(["--max-steps", "1000000000000"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let id = api.submit(&sam, assignment, LOOP_FOREVER).await;
    // "running" comes from the child: it holds the job, unacknowledged.
    within(api.wait_status(&sam, id, "running")).await;
    assert_eq!(queue_counts(&amqp, JOBS_QUEUE).await, (0, 1));

    // SIGKILL: no goodbye, no ack. Warren sees the socket close and requeues the job.
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let requeued = within(async {
        loop {
            let counts = queue_counts(&amqp, JOBS_QUEUE).await;
            if counts == (1, 0) {
                break counts;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(requeued, (1, 0));
    assert_eq!(
        api.get(&sam, &format!("/submissions/{id}")).await.1["status"],
        "running"
    );

    // Another worker (limit 200000 steps) grades it.
    let worker = start_worker(&amqp, 1).await;
    let graded = within(api.wait_graded(&sam, id)).await;
    let cases = graded["result"]["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        let err = case["error"].as_str().unwrap();
        assert!(err.contains("step limit of 200000 instructions"), "{err}");
    }
    // Graded once: nothing left in either queue, and the result does not change.
    within(async {
        while queue_counts(&amqp, RESULTS_QUEUE).await.0 != 0
            || queue_counts(&amqp, JOBS_QUEUE).await.0 != 0
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(api.get(&sam, &format!("/submissions/{id}")).await.1, graded);
    let (_, list) = api
        .get(&tina, &format!("/assignments/{assignment}/submissions"))
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    worker.stop().await;
    service.stop().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_from_the_command_line_and_a_users_file() {
    let broker = start_broker().await;
    let amqp = amqp_url(&broker);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_dir = data.to_str().unwrap();

    let out = grader_bin()
        .args([
            "user",
            "add",
            "ann",
            "--role",
            "teacher",
            "--password",
            "ann-pw",
        ])
        .args(["--data-dir", data_dir])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = grader_bin()
        .args(["user", "add", "x", "--role", "admin", "--password", "p"])
        .args(["--data-dir", data_dir])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown role"));

    let out = grader_bin()
        .args(["user", "hash", "--password", "bob-pw"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).unwrap();
    assert!(hash.starts_with("$argon2id$"));
    let users_file = dir.path().join("users.toml");
    std::fs::write(
        &users_file,
        format!(
            "[[users]]\nname = \"bob\"\nrole = \"student\"\npassword_hash = \"{}\"\n",
            hash.trim()
        ),
    )
    .unwrap();

    let mut config = serve_config(&amqp, &data);
    config.users_file = Some(users_file.clone());
    let service = within(grader::serve::Service::start(config)).await.unwrap();
    let api = Api::new(&service);
    let ann = api.login("ann").await;
    let bob = api.login("bob").await;
    let claims = grader::auth::TokenKeys::new(SECRET.as_bytes(), Duration::from_secs(60))
        .verify(&bob)
        .unwrap();
    assert_eq!(claims.role, grader::db::Role::Student);
    assert!(claims.exp > claims.iat && claims.exp <= claims.iat + 3600);
    // Roles are the stored ones: ann may create an assignment, bob may not.
    assert_eq!(
        api.get(&bob, "/assignments/1/submissions").await.0,
        403,
        "students cannot list submissions"
    );
    let id = api.create_assignment(&ann, "Echo", &[("x\n", "x\n")]).await;
    assert!(id > 0);
    service.stop().await;

    // A users file holding a plain password is refused at start.
    std::fs::write(
        &users_file,
        "[[users]]\nname = \"eve\"\nrole = \"student\"\npassword_hash = \"plain\"\n",
    )
    .unwrap();
    let mut config = serve_config(&amqp, &data);
    config.users_file = Some(users_file);
    let err = grader::serve::Service::start(config).await.err().unwrap();
    assert!(err.to_string().contains("not a PHC string"), "{err}");
    broker.stop().await;
}
