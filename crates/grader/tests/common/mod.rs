//! Shared by the service tests: an in-process Warren broker on 127.0.0.1:0, the grader's
//! service and workers in-process, and an HTTP client (reqwest) speaking to the real API.
#![allow(dead_code)]

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use grader::db::Role;
use grader::serve::{ServeConfig, Service};
use grader::worker::{Worker, WorkerConfig};
use serde_json::{json, Value};
use warren_core::{Broker, Limits};
use warren_server::RunningServer;

/// Every wait is bounded: a broken service fails the test instead of hanging it.
pub const WAIT: Duration = Duration::from_secs(30);

/// The secret the test services sign tokens with (so tests can forge expired tokens).
pub const SECRET: &str = "test-secret-not-for-production";

pub const TIMES10: &str = "\
        .data
prompt: .asciiz \"Please, type a number: \"
result: .asciiz \"The result is \"
        .text
main:   li   $v0, 4
        la   $a0, prompt
        syscall
        li   $v0, 5
        syscall
        mul  $t0, $v0, 10
        li   $v0, 4
        la   $a0, result
        syscall
        li   $v0, 1
        move $a0, $t0
        syscall
        li   $v0, 11
        li   $a0, 10
        syscall
        li   $v0, 10
        syscall
";

/// Multiplies by 11 instead: prints the wrong number.
pub fn times11() -> String {
    TIMES10.replace("mul  $t0, $v0, 10", "mul  $t0, $v0, 11")
}

pub const LOOP_FOREVER: &str = "\
main:   li    $v0, 4
        la    $a0, msg
        syscall
spin:   addiu $t0, $t0, 1
        j     spin
        .data
msg:    .asciiz \"Looping forever...\\n\"
";

/// The seed's times-10 program (`tests/fixtures/times10/`) and its cases `(name, stdin,
/// expected_stdout)`: one per `NAME.in` there, with SPIM's output in `NAME.out`, by name.
pub struct Fixture {
    pub source: String,
    pub cases: Vec<(String, String, String)>,
}

impl Fixture {
    pub fn times10() -> Fixture {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/times10");
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
        };
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|n| n.strip_suffix(".in").map(str::to_owned))
            .collect();
        names.sort();
        let cases = names
            .into_iter()
            .map(|n| {
                let (stdin, out) = (read(&format!("{n}.in")), read(&format!("{n}.out")));
                (n, stdin, out)
            })
            .collect();
        Fixture {
            source: read("times10.s"),
            cases,
        }
    }

    /// `(stdin, expected_stdout)` pairs, for [`Api::create_assignment`].
    pub fn case_pairs(&self) -> Vec<(&str, &str)> {
        self.cases
            .iter()
            .map(|(_, i, o)| (i.as_str(), o.as_str()))
            .collect()
    }
}

/// `(stdin, expected_stdout)` of the times-10 assignment.
pub const TIMES10_CASES: [(&str, &str); 3] = [
    ("4\n", "Please, type a number: The result is 40\n"),
    ("-7\n", "Please, type a number: The result is -70\n"),
    ("123456\n", "Please, type a number: The result is 1234560\n"),
];

pub async fn start_broker() -> RunningServer {
    RunningServer::start("127.0.0.1:0", Arc::new(Broker::new(Limits::default())))
        .await
        .expect("broker starts on a free port")
}

/// A queue of the broker's default vhost, looked up through the in-process broker handle
/// (what the management API reads).
pub fn broker_queue(server: &RunningServer, name: &str) -> Arc<warren_core::Queue> {
    server
        .broker
        .vhost("/")
        .expect("default vhost")
        .queues()
        .into_iter()
        .find(|q| &*q.name == name)
        .unwrap_or_else(|| panic!("no queue {name}"))
}

pub fn amqp_url(server: &RunningServer) -> String {
    format!("amqp://guest:guest@{}/%2f", server.addr)
}

pub fn serve_config(amqp: &str, data_dir: &Path) -> ServeConfig {
    ServeConfig {
        http_listen: "127.0.0.1:0".into(),
        jwt_secret: Some(SECRET.into()),
        max_upload_bytes: 16 * 1024,
        ..ServeConfig::new(amqp, data_dir)
    }
}

pub async fn start_service(amqp: &str, data_dir: &Path) -> Service {
    start_service_with(serve_config(amqp, data_dir)).await
}

pub async fn start_service_with(config: ServeConfig) -> Service {
    within(Service::start(config))
        .await
        .expect("service starts")
}

pub fn worker_config(amqp: &str, concurrency: u16) -> WorkerConfig {
    WorkerConfig {
        amqp_url: amqp.into(),
        concurrency,
        limits: mips::Limits {
            max_steps: 200_000,
            memory_bytes: 8 << 20,
            ..mips::Limits::default()
        },
        job_timeout: WorkerConfig::DEFAULT_JOB_TIMEOUT,
    }
}

pub async fn start_worker(amqp: &str, concurrency: u16) -> Worker {
    within(Worker::start(worker_config(amqp, concurrency)))
        .await
        .expect("worker starts")
}

/// Creates the usual users: teacher `tina`, students `sam` and `sue`, second teacher `tom`.
pub fn add_users(data_dir: &Path) {
    for (name, role) in [
        ("tina", Role::Teacher),
        ("tom", Role::Teacher),
        ("sam", Role::Student),
        ("sue", Role::Student),
    ] {
        grader::users::add_user(data_dir, name, role, &format!("{name}-pw")).unwrap();
    }
}

/// Awaits `f`, failing the test if it takes longer than [`WAIT`].
pub async fn within<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f)
        .await
        .expect("timed out waiting")
}

/// A client of one service.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(service: &Service) -> Api {
        Api {
            base: format!("http://{}", service.addr),
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn login(&self, user: &str) -> String {
        let res = self
            .http
            .post(self.url("/login"))
            .json(&json!({"username": user, "password": format!("{user}-pw")}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "login of {user}");
        res.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn create_assignment(&self, token: &str, title: &str, cases: &[(&str, &str)]) -> i64 {
        let cases: Vec<Value> = cases
            .iter()
            .map(|(i, o)| json!({"stdin": i, "expected_stdout": o}))
            .collect();
        let res = self
            .http
            .post(self.url("/assignments"))
            .bearer_auth(token)
            .json(&json!({"title": title, "cases": cases}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        res.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
    }

    pub async fn upload(
        &self,
        token: &str,
        assignment: i64,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> reqwest::Response {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned()),
        );
        self.http
            .post(self.url(&format!("/assignments/{assignment}/submissions")))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// Uploads `source` as `prog.s`; returns the status and the JSON body.
    pub async fn try_submit(&self, token: &str, assignment: i64, source: &str) -> (u16, Value) {
        let res = self
            .upload(token, assignment, "prog.s", source.as_bytes().to_vec())
            .await;
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Uploads and expects 202 `{"id", "status": "queued"}`; returns the id.
    pub async fn submit(&self, token: &str, assignment: i64, source: &str) -> i64 {
        let res = self
            .upload(token, assignment, "prog.s", source.as_bytes().to_vec())
            .await;
        assert_eq!(res.status(), 202);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["status"], "queued");
        body["id"].as_i64().unwrap()
    }

    pub async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        let res = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Polls the submission until it is graded; returns it.
    pub async fn wait_graded(&self, token: &str, id: i64) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let (status, body) = self.get(token, &format!("/submissions/{id}")).await;
            assert_eq!(status, 200, "{body}");
            if body["status"] == "graded" {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "submission {id} not graded in time: {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls until the submission has `status`.
    pub async fn wait_status(&self, token: &str, id: i64, status: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let (_, body) = self.get(token, &format!("/submissions/{id}")).await;
            if body["status"] == status {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "submission {id} never {status}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
