//! The log of the real binary: no colour codes in a pipe, and `--log-format json` (or
//! `WARREN_LOG_FORMAT`, or `log_format` in the TOML file) gives one JSON object a line.

mod common;

use common::BrokerProcess;

const LISTEN: [&str; 4] = [
    "--amqp-listen",
    "127.0.0.1:0",
    "--http-listen",
    "127.0.0.1:0",
];

/// The start-up log and a connection's open and close: some lines from other crates too.
async fn some_log(mut b: BrokerProcess) -> Vec<String> {
    let url = b.url();
    let conn = lapin::Connection::connect(&url, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    conn.close(200, "bye").await.unwrap();
    let mut log = b.log_until("management HTTP listening on");
    log.extend(b.stop_with_log());
    log
}

#[tokio::test]
async fn text_logs_in_a_pipe_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    // No NO_COLOR here: a pipe alone must be enough.
    let b = BrokerProcess::start_cmd(dir.path(), &LISTEN, &[]);
    let log = some_log(b).await;
    assert!(log.len() > 3, "{log:#?}");
    for l in &log {
        assert!(!l.contains('\u{1b}'), "an escape code in {l:?}");
    }
    assert!(log.iter().any(|l| l.contains(" INFO ")), "{log:#?}");
}

fn assert_json_lines(log: &[String]) {
    assert!(log.len() > 3, "{log:#?}");
    for l in log {
        assert!(!l.contains('\u{1b}'), "an escape code in {l:?}");
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v["level"].is_string(), "{l}");
        assert!(v["message"].is_string(), "{l}");
        assert!(v["timestamp"].is_string(), "{l}");
    }
    assert!(log.iter().any(|l| {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        v["level"] == "INFO"
            && v["message"]
                .as_str()
                .is_some_and(|m| m.contains("AMQP listening on 127.0.0.1:"))
    }));
}

#[tokio::test]
async fn json_logs_from_the_flag_and_from_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = LISTEN.to_vec();
    args.extend(["--log-format", "json"]);
    let b = BrokerProcess::start_cmd(&dir.path().join("a"), &args, &[]);
    assert_json_lines(&some_log(b).await);

    let cfg = dir.path().join("warren.toml");
    std::fs::write(&cfg, "log_format = \"json\"\n").unwrap();
    let mut args = LISTEN.to_vec();
    args.extend(["--config", cfg.to_str().unwrap()]);
    let b = BrokerProcess::start_cmd(&dir.path().join("b"), &args, &[]);
    assert_json_lines(&some_log(b).await);
}

#[test]
fn a_bad_log_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warren"))
        .args(["server", "--data-dir"])
        .arg(dir.path())
        .args(LISTEN)
        .env("WARREN_LOG_FORMAT", "xml")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid value 'xml'"), "{err}");
    assert!(err.contains("text") && err.contains("json"), "{err}");
}
