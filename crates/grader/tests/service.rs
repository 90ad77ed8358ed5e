//! The grading service end to end: a Warren broker, `serve` and workers in-process, the HTTP
//! API driven with reqwest over real TCP.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

struct Setup {
    broker: warren_server::RunningServer,
    amqp: String,
    dir: tempfile::TempDir,
    service: grader::serve::Service,
    api: Api,
}

async fn setup() -> Setup {
    let broker = start_broker().await;
    let amqp = amqp_url(&broker);
    let dir = tempfile::tempdir().unwrap();
    add_users(dir.path());
    let service = start_service(&amqp, dir.path()).await;
    let api = Api::new(&service);
    Setup {
        broker,
        amqp,
        dir,
        service,
        api,
    }
}

async fn times10_assignment(api: &Api) -> (String, i64) {
    let teacher = api.login("tina").await;
    let id = api
        .create_assignment(&teacher, "Times ten", &TIMES10_CASES)
        .await;
    (teacher, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_flow_from_login_to_graded_results() {
    let s = setup().await;
    let worker = start_worker(&s.amqp, 2).await;
    // The seed's times-10 program, graded against SPIM's output for each fixture input.
    let fixture = Fixture::times10();
    let total = fixture.cases.len();
    assert!(total >= 3, "the fixture has {total} cases");
    let teacher = s.api.login("tina").await;
    let assignment = s
        .api
        .create_assignment(&teacher, "Times ten", &fixture.case_pairs())
        .await;
    let sam = s.api.login("sam").await;

    // The correct program passes every case, with SPIM's output.
    let ok = s.api.submit(&sam, assignment, &fixture.source).await;
    let graded = within(s.api.wait_graded(&sam, ok)).await;
    let r = &graded["result"];
    assert_eq!(
        (r["passed"].as_u64(), r["total"].as_u64()),
        (Some(total as u64), Some(total as u64)),
        "{graded}"
    );
    assert_eq!(graded["student"], "sam");
    assert_eq!(graded["assignment_id"], assignment);
    let cases = r["cases"].as_array().unwrap();
    assert_eq!(cases.len(), total);
    for (case, (name, _, expected)) in cases.iter().zip(&fixture.cases) {
        assert_eq!(case["passed"], true, "{name}: {case}");
        assert_eq!(case["actual_stdout"], expected.as_str(), "{name}");
        assert!(case.get("diff").is_none());
    }

    // A wrong one (times 11) fails every case, with the diff of each.
    let times11 = fixture.source.replace("li   $t3, 10", "li   $t3, 11");
    assert_ne!(times11, fixture.source);
    let wrong = s.api.submit(&sam, assignment, &times11).await;
    let graded = within(s.api.wait_graded(&sam, wrong)).await;
    let r = &graded["result"];
    assert_eq!(r["passed"], 0, "{graded}");
    assert_eq!(r["total"], total);
    let seed = fixture
        .cases
        .iter()
        .position(|(name, _, _)| name == "seed")
        .expect("the seed's own input is a case");
    let case = &r["cases"][seed];
    assert_eq!(case["passed"], false);
    assert_eq!(
        case["actual_stdout"],
        fixture.cases[seed].2.replace("is 420", "is 462")
    );
    let diff = case["diff"].as_str().unwrap();
    assert!(
        diff.contains("-The result is 420") && diff.contains("+The result is 462"),
        "{diff}"
    );

    // An assembly error is a graded result naming the line, not a crash.
    let line = 1 + fixture
        .source
        .lines()
        .position(|l| l.contains("mul  $t5, $t0, $t3"))
        .unwrap();
    let bad_source = fixture
        .source
        .replace("mul  $t5, $t0, $t3", "mull $t5, $t0, $t3");
    let bad = s.api.submit(&sam, assignment, &bad_source).await;
    let graded = within(s.api.wait_graded(&sam, bad)).await;
    let r = &graded["result"];
    assert_eq!(
        (r["passed"].as_u64(), r["total"].as_u64()),
        (Some(0), Some(total as u64))
    );
    assert_eq!(r["cases"].as_array().unwrap().len(), 0);
    let error = r["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!("prog.s:{line}: error: unknown instruction 'mull'")),
        "{error}"
    );

    // A program that never ends costs one step limit per case; the worker survives it.
    let spin = s.api.submit(&sam, assignment, LOOP_FOREVER).await;
    let graded = within(s.api.wait_graded(&sam, spin)).await;
    let r = &graded["result"];
    assert_eq!(r["passed"], 0);
    for case in r["cases"].as_array().unwrap() {
        let err = case["error"].as_str().unwrap();
        assert!(
            err.contains("step limit of 200000 instructions reached"),
            "{err}"
        );
        assert!(
            err.starts_with("prog.s:4:") || err.starts_with("prog.s:5:"),
            "{err}"
        );
        assert_eq!(case["actual_stdout"], "Looping forever...\n");
        assert_eq!(case["steps"], 200_000);
    }
    let again = s.api.submit(&sam, assignment, &fixture.source).await;
    let graded = within(s.api.wait_graded(&sam, again)).await;
    assert_eq!(graded["result"]["passed"], total);

    // The teacher sees all of them, in order; the student sees their own list.
    let (status, list) = s
        .api
        .get(&teacher, &format!("/assignments/{assignment}/submissions"))
        .await;
    assert_eq!(status, 200);
    let ids: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![ok, wrong, bad, spin, again]);
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"] == "graded"));
    let (status, mine) = s.api.get(&sam, "/submissions").await;
    assert_eq!(status, 200);
    assert_eq!(mine.as_array().unwrap().len(), 5);
    let (status, teacher_view) = s.api.get(&teacher, &format!("/submissions/{ok}")).await;
    assert_eq!(status, 200);
    assert_eq!(teacher_view["result"]["passed"], total);

    // The web page is served by the service itself.
    let page = s.api.http.get(s.api.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<form id=\"login-form\"") && html.contains("/submissions/"));
    assert!(
        !html.contains("https://"),
        "the page loads nothing from elsewhere"
    );

    worker.stop().await;
    s.service.stop().await;
    s.broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_at_once_while_no_worker_runs() {
    let s = setup().await;
    let (_, assignment) = times10_assignment(&s.api).await;
    let sam = s.api.login("sam").await;

    // Each upload is answered 202 "queued" (checked by `submit`) with no worker running:
    // the answer does not wait for grading.
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(s.api.submit(&sam, assignment, TIMES10).await);
    }
    // Nobody grades: they stay queued (and the jobs wait in the durable queue).
    tokio::time::sleep(Duration::from_millis(300)).await;
    for id in &ids {
        let (_, body) = s.api.get(&sam, &format!("/submissions/{id}")).await;
        assert_eq!(body["status"], "queued", "{body}");
        assert!(body["result"].is_null());
    }
    // A worker that starts later takes them all.
    let worker = start_worker(&s.amqp, 1).await;
    for id in &ids {
        let graded = within(s.api.wait_graded(&sam, *id)).await;
        assert_eq!(graded["result"]["passed"], 3);
    }
    worker.stop().await;
    s.service.stop().await;
    s.broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_goes_queued_running_graded() {
    let s = setup().await;
    let (_, assignment) = times10_assignment(&s.api).await;
    let sam = s.api.login("sam").await;
    // A slow program (about 3 x 2M steps) on a worker with a generous limit.
    let slow =
        "main: li $t0, 2000000\nloop: addiu $t0, $t0, -1\n bnez $t0, loop\n li $v0, 10\n syscall\n";
    let id = s.api.submit(&sam, assignment, slow).await;
    let mut config = worker_config(&s.amqp, 1);
    config.limits.max_steps = 100_000_000;
    let worker = within(grader::worker::Worker::start(config)).await.unwrap();
    let running = within(s.api.wait_status(&sam, id, "running")).await;
    assert!(running["result"].is_null());
    let graded = within(s.api.wait_graded(&sam, id)).await;
    assert_eq!(graded["result"]["passed"], 0, "it prints nothing");
    assert!(graded["result"]["cases"][0]["steps"].as_u64().unwrap() > 4_000_000);
    worker.stop().await;
    s.service.stop().await;
    s.broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_over_the_time_limit_is_graded_with_an_error_and_frees_its_slot() {
    let s = setup().await;
    let (_, assignment) = times10_assignment(&s.api).await;
    let sam = s.api.login("sam").await;
    // One slot, a step limit far beyond the wall-clock limit: each case of the endless
    // program would run for seconds, three of them longer still.
    let mut config = worker_config(&s.amqp, 1);
    config.limits.max_steps = 30_000_000;
    config.job_timeout = Duration::from_millis(200);
    let worker = within(grader::worker::Worker::start(config)).await.unwrap();
    let spin = s.api.submit(&sam, assignment, LOOP_FOREVER).await;
    let graded = within(s.api.wait_graded(&sam, spin)).await;
    let r = &graded["result"];
    assert_eq!(
        r["error"], "time limit exceeded: grading took longer than 200 ms",
        "{graded}"
    );
    assert_eq!(
        (r["passed"].as_u64(), r["total"].as_u64()),
        (Some(0), Some(3))
    );
    assert_eq!(r["cases"], serde_json::json!([]));
    // The next job gets the slot and is graded normally.
    let next = s.api.submit(&sam, assignment, TIMES10).await;
    let graded = within(s.api.wait_graded(&sam, next)).await;
    assert_eq!(graded["result"]["passed"], 3, "{graded}");
    assert!(graded["result"]["error"].is_null());
    worker.stop().await;
    s.service.stop().await;
    s.broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_of_the_service_keeps_results() {
    let s = setup().await;
    let (teacher, assignment) = times10_assignment(&s.api).await;
    let sam = s.api.login("sam").await;
    let worker = start_worker(&s.amqp, 1).await;
    let first = s.api.submit(&sam, assignment, TIMES10).await;
    let before = within(s.api.wait_graded(&sam, first)).await;
    worker.stop().await;

    // Queued while no worker runs, then the service stops; a worker grades it meanwhile and
    // the result waits in the durable results queue for the next service.
    let second = s.api.submit(&sam, assignment, &times11()).await;
    s.service.stop().await;
    let worker = start_worker(&s.amqp, 1).await;

    let service = start_service(&s.amqp, s.dir.path()).await;
    let api = Api::new(&service);
    // Tokens survive too: same secret, no new login.
    let (status, after) = api.get(&sam, &format!("/submissions/{first}")).await;
    assert_eq!(status, 200);
    assert_eq!(after, before);
    let graded = within(api.wait_graded(&sam, second)).await;
    assert_eq!(graded["result"]["passed"], 0);
    let (_, list) = api
        .get(&teacher, &format!("/assignments/{assignment}/submissions"))
        .await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    worker.stop().await;
    service.stop().await;
    s.broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_submissions_four_workers() {
    let s = setup().await;
    let (teacher, assignment) = times10_assignment(&s.api).await;
    let sam = s.api.login("sam").await;
    let mut workers = Vec::new();
    for _ in 0..4 {
        workers.push(start_worker(&s.amqp, 1).await);
    }
    // Upload from 8 concurrent clients.
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..8 {
        let (api, sam) = (s.api.clone(), sam.clone());
        tasks.spawn(async move {
            let mut ids = Vec::new();
            for i in 0..25 {
                let source = if (client + i) % 5 == 0 {
                    times11()
                } else {
                    TIMES10.to_owned()
                };
                ids.push(api.submit(&sam, assignment, &source).await);
            }
            ids
        });
    }
    let mut ids = Vec::new();
    while let Some(r) = tasks.join_next().await {
        ids.extend(r.unwrap());
    }
    assert_eq!(ids.len(), 200);
    let deadline = Instant::now() + Duration::from_secs(120);
    let list = loop {
        let (_, list) = s
            .api
            .get(&teacher, &format!("/assignments/{assignment}/submissions"))
            .await;
        let list = list.as_array().unwrap().clone();
        if list.iter().all(|s| s["status"] == "graded") {
            break list;
        }
        assert!(Instant::now() < deadline, "not all graded in time");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(list.len(), 200);
    let passed = list.iter().filter(|s| s["result"]["passed"] == 3).count();
    let failed = list.iter().filter(|s| s["result"]["passed"] == 0).count();
    assert_eq!((passed, failed), (160, 40));
    for w in workers {
        w.stop().await;
    }
    s.service.stop().await;
    s.broker.stop().await;
}

/// Signs arbitrary claims with `secret`.
fn token_with(secret: &str, sub: &str, role: &str, exp: u64) -> String {
    let claims = serde_json::json!({"sub": sub, "role": role, "iat": 0, "exp": exp});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_and_authorization_rules() {
    let s = setup().await;
    let api = &s.api;
    let (tina, assignment) = times10_assignment(api).await;
    let sam = api.login("sam").await;
    let sue = api.login("sue").await;
    let tom = api.login("tom").await;
    let sams = api.submit(&sam, assignment, TIMES10).await;

    // Login: wrong password, unknown user, malformed body.
    for body in [
        serde_json::json!({"username": "sam", "password": "nope"}),
        serde_json::json!({"username": "nobody", "password": "x"}),
    ] {
        let res = api
            .http
            .post(api.url("/login"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    let res = api
        .http
        .post(api.url("/login"))
        .header("content-type", "application/json")
        .body("{\"username\":")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    // 401: no token, not a bearer token, expired, bad signature, garbage.
    let path = format!("/submissions/{sams}");
    let res = api.http.get(api.url(&path)).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let res = api
        .http
        .get(api.url(&path))
        .basic_auth("sam", Some("sam-pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let expired = token_with(SECRET, "sam", "student", now() - 5);
    let (status, body) = api.get(&expired, &path).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "token expired");
    let forged = token_with("another-secret", "sam", "student", now() + 600);
    assert_eq!(api.get(&forged, &path).await.0, 401);
    assert_eq!(api.get("not.a.jwt", &path).await.0, 401);
    // A valid token made with the right secret works (the check above is not vacuous).
    let fresh = token_with(SECRET, "sam", "student", now() + 600);
    assert_eq!(api.get(&fresh, &path).await.0, 200);
    // Uploads need a token too.
    let res = api
        .http
        .post(api.url(&format!("/assignments/{assignment}/submissions")))
        .multipart(reqwest::multipart::Form::new().text("file", TIMES10))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // 404: another student's submission, another teacher's assignment, unknown ids.
    assert_eq!(api.get(&sue, &path).await.0, 404);
    assert_eq!(api.get(&tom, &path).await.0, 404);
    assert_eq!(api.get(&tina, &path).await.0, 200);
    assert_eq!(api.get(&sam, "/submissions/999999").await.0, 404);
    assert_eq!(api.get(&sam, "/submissions/abc").await.0, 404);
    let subs_path = format!("/assignments/{assignment}/submissions");
    assert_eq!(api.get(&tom, &subs_path).await.0, 404);
    let res = api.upload(&sam, 999_999, "p.s", TIMES10.into()).await;
    assert_eq!(res.status(), 404);

    // 403: students do not create assignments or list an assignment's submissions.
    assert_eq!(api.get(&sam, &subs_path).await.0, 403);
    let res = api
        .http
        .post(api.url("/assignments"))
        .bearer_auth(&sam)
        .json(&serde_json::json!({"title": "x", "cases": [{"stdin": "", "expected_stdout": ""}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // 400: an assignment without cases.
    let res = api
        .http
        .post(api.url("/assignments"))
        .bearer_auth(&tina)
        .json(&serde_json::json!({"title": "x", "cases": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    // Upload checks: too large 413, empty 400, binary 400, no "file" field 400.
    let big = format!("{TIMES10}{}", "# padding\n".repeat(2000)); // > 16 KiB
    let res = api
        .upload(&sam, assignment, "big.s", big.into_bytes())
        .await;
    assert_eq!(res.status(), 413);
    let body: Value = res.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("larger than"));
    // A much larger one (500 KB) is read to its end and discarded: the client, still sending,
    // gets a clean 413 rather than a broken pipe. Run it a few times: it used to be a race.
    for _ in 0..5 {
        let huge = "# padding\n".repeat(50_000).into_bytes();
        let res = api.upload(&sam, assignment, "huge.s", huge).await;
        assert_eq!(res.status(), 413);
    }
    let res = api.upload(&sam, assignment, "empty.s", Vec::new()).await;
    assert_eq!(res.status(), 400);
    let res = api
        .upload(&sam, assignment, "blank.s", b"  \n\n".to_vec())
        .await;
    assert_eq!(res.status(), 400);
    let res = api
        .upload(
            &sam,
            assignment,
            "a.out",
            vec![0x7f, b'E', b'L', b'F', 0, 0, 0xff, 0xfe],
        )
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("not a text file"));
    let res = api
        .http
        .post(api.url(&format!("/assignments/{assignment}/submissions")))
        .bearer_auth(&sam)
        .multipart(reqwest::multipart::Form::new().text("program", TIMES10))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // None of the refused uploads became a submission.
    let (_, mine) = api.get(&sam, "/submissions").await;
    assert_eq!(mine.as_array().unwrap().len(), 1);

    s.service.stop().await;
    s.broker.stop().await;
}

/// `(status, error text)` of an upload that is expected to fail.
async fn refused_upload(api: &Api, token: &str, assignment: i64) -> (u16, String) {
    let (status, body) = within(api.try_submit(token, assignment, TIMES10)).await;
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

/// How many submissions `token`'s owner has.
async fn submission_count(api: &Api, token: &str) -> usize {
    let (status, mine) = api.get(token, "/submissions").await;
    assert_eq!(status, 200);
    mine.as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_warren_refuses_is_answered_503_and_leaves_no_submission() {
    let s = setup().await;
    let (_, assignment) = times10_assignment(&s.api).await;
    let sam = s.api.login("sam").await;
    let accepted = s.api.submit(&sam, assignment, TIMES10).await;
    // What an operator would set with `PUT /api/policies/%2f/full`: the jobs queue takes no
    // more messages, and a publish past the limit is refused (basic.nack), not dropped.
    let policy = warren_core::definitions::policy_from_json(&serde_json::json!({
        "vhost": "/",
        "name": "full",
        "pattern": "^grader\\.jobs$",
        "apply-to": "queues",
        "definition": {"max-length": 0, "overflow": "reject-publish"},
    }))
    .unwrap();
    s.broker.broker.vhost("/").unwrap().set_policy(policy);

    let (status, error) = refused_upload(&s.api, &sam, assignment).await;
    assert_eq!(status, 503, "{error}");
    assert_eq!(
        error,
        "the job queue refused the job (it may be full); try again later"
    );
    // The refused upload left no submission behind, and no job: only the first is queued.
    assert_eq!(submission_count(&s.api, &sam).await, 1);
    let info = broker_queue(&s.broker, grader::protocol::JOBS_QUEUE).info();
    assert_eq!((info.messages_ready, info.messages_unacknowledged), (1, 0));

    // Once the policy is gone, uploads are accepted again (and nothing else changed).
    assert!(s.broker.broker.vhost("/").unwrap().clear_policy("full"));
    let next = s.api.submit(&sam, assignment, TIMES10).await;
    assert!(next > accepted);
    assert_eq!(submission_count(&s.api, &sam).await, 2);
    s.service.stop().await;
    s.broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_is_a_persistent_message_on_a_durable_queue() {
    use lapin::options::{BasicGetOptions, BasicRejectOptions, QueueDeclareOptions};
    use lapin::types::FieldTable;

    let s = setup().await;
    let (_, assignment) = times10_assignment(&s.api).await;
    let sam = s.api.login("sam").await;
    // No worker runs: the job waits in the queue.
    let id = s.api.submit(&sam, assignment, TIMES10).await;

    let conn = within(lapin::Connection::connect(
        &s.amqp,
        lapin::ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    // The queue is durable: declaring it transient is refused as inequivalent (406).
    let ch = conn.create_channel().await.unwrap();
    let transient = ch
        .queue_declare(
            grader::protocol::JOBS_QUEUE,
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await;
    let err = transient.expect_err("grader.jobs is durable").to_string();
    assert!(
        err.contains("PRECONDITION_FAILED") || err.contains("406"),
        "{err}"
    );
    let ch = conn.create_channel().await.unwrap();
    let durable = ch
        .queue_declare(
            grader::protocol::JOBS_QUEUE,
            QueueDeclareOptions {
                durable: true,
                passive: false,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("declaring it durable is equivalent");
    assert_eq!(durable.message_count(), 1);

    // The job is persistent JSON naming the submission.
    let got = within(ch.basic_get(
        grader::protocol::JOBS_QUEUE,
        BasicGetOptions { no_ack: false },
    ))
    .await
    .unwrap()
    .expect("the job is in the queue");
    let props = &got.delivery.properties;
    assert_eq!(*props.delivery_mode(), Some(2), "persistent");
    assert_eq!(
        props.content_type().as_ref().map(|c| c.as_str()),
        Some("application/json")
    );
    assert_eq!(
        props.message_id().as_ref().map(|m| m.as_str().to_owned()),
        Some(id.to_string())
    );
    let job: grader::protocol::Job = serde_json::from_slice(&got.delivery.data).unwrap();
    assert_eq!(job.submission_id, id);
    assert_eq!(job.source, TIMES10);
    assert_eq!(job.cases.len(), TIMES10_CASES.len());
    // Back to the queue: a worker started now grades it.
    got.delivery
        .acker
        .reject(BasicRejectOptions { requeue: true })
        .await
        .unwrap();
    let _ = conn.close(200, "bye").await;
    let worker = start_worker(&s.amqp, 1).await;
    let graded = within(s.api.wait_graded(&sam, id)).await;
    assert_eq!(graded["result"]["passed"], 3);
    worker.stop().await;
    s.service.stop().await;
    s.broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warren_unreachable_is_answered_503_and_leaves_no_submission() {
    let s = setup().await;
    let (_, assignment) = times10_assignment(&s.api).await;
    let sam = s.api.login("sam").await;
    s.api.submit(&sam, assignment, TIMES10).await;
    // Warren goes away (it closes every connection, then stops listening).
    s.broker.stop().await;

    for _ in 0..2 {
        let (status, error) = refused_upload(&s.api, &sam, assignment).await;
        assert_eq!(status, 503, "{error}");
        assert!(
            error.starts_with("the job queue is unavailable (")
                && error.ends_with("try again later"),
            "{error}"
        );
    }
    assert_eq!(submission_count(&s.api, &sam).await, 1);
    s.service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_while_warren_blocks_publishers_is_answered_503_not_held() {
    let broker = start_broker().await;
    let amqp = amqp_url(&broker);
    let dir = tempfile::tempdir().unwrap();
    add_users(dir.path());
    let mut config = serve_config(&amqp, dir.path());
    config.publish_timeout = Duration::from_millis(300);
    let service = start_service_with(config).await;
    let api = Api::new(&service);
    let (_, assignment) = times10_assignment(&api).await;
    let sam = api.login("sam").await;
    let first = api.submit(&sam, assignment, TIMES10).await;

    // A resource alarm (what Warren's memory monitor raises past `memory_high_watermark`):
    // a connection that publishes is no longer read, so no confirm comes back.
    broker.broker.set_alarm(Some("memory alarm (test)".into()));
    let (status, error) = refused_upload(&api, &sam, assignment).await;
    assert_eq!(status, 503, "{error}");
    assert_eq!(
        error,
        "the job queue did not confirm the job within 300 ms (Warren may be blocking \
         publishers under a resource alarm); try again later"
    );
    assert_eq!(submission_count(&api, &sam).await, 1);

    // The alarm clears: uploads are accepted and graded again. The held publish may reach
    // the queue now; its results match no submission and change nothing.
    broker.broker.set_alarm(None);
    let worker = start_worker(&amqp, 1).await;
    let next = api.submit(&sam, assignment, TIMES10).await;
    let graded = within(api.wait_graded(&sam, next)).await;
    assert_eq!(graded["result"]["passed"], 3);
    within(api.wait_graded(&sam, first)).await;
    let (_, mine) = api.get(&sam, "/submissions").await;
    let ids: Vec<i64> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{mine}");
    assert!(ids.contains(&first) && ids.contains(&next), "{mine}");
    worker.stop().await;
    service.stop().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_holds_no_more_jobs_than_its_prefetch_window() {
    let s = setup().await;
    let (_, assignment) = times10_assignment(&s.api).await;
    let sam = s.api.login("sam").await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(s.api.submit(&sam, assignment, TIMES10).await);
    }
    // Hold the worker: under a resource alarm Warren still delivers, but stops reading a
    // connection once it has published, so the worker's reports ("running", then the
    // result) get no confirm and each job it takes stays unacked until the alarm clears.
    s.broker
        .broker
        .set_alarm(Some("memory alarm (test)".into()));
    let worker = start_worker(&s.amqp, 2).await;
    let jobs = broker_queue(&s.broker, grader::protocol::JOBS_QUEUE);
    let deadline = std::time::Instant::now() + WAIT;
    let info = loop {
        let info = jobs.info();
        if info.messages_unacknowledged >= 2 {
            break info;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no job delivered: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        (info.messages_ready, info.messages_unacknowledged),
        (3, 2),
        "a worker with concurrency 2 holds 2 jobs, the other 3 wait in the queue"
    );
    assert_eq!(info.consumers.len(), 1);
    assert_eq!(
        (info.consumers[0].prefetch, info.consumers[0].unacked),
        (2, 2)
    );
    // The queue is first in, first out: the worker holds the first two (one may already
    // show "running": Warren reads a connection's first publish before blocking it), none is
    // graded, and the other three have not left the queue.
    for (i, id) in ids.iter().enumerate() {
        let (_, body) = s.api.get(&sam, &format!("/submissions/{id}")).await;
        let status = body["status"].as_str().unwrap();
        if i < 2 {
            assert!(status == "queued" || status == "running", "{body}");
        } else {
            assert_eq!(status, "queued", "{body}");
        }
    }

    // Released, the worker grades all five, two at a time.
    s.broker.broker.set_alarm(None);
    for id in &ids {
        let graded = within(s.api.wait_graded(&sam, *id)).await;
        assert_eq!(graded["result"]["passed"], 3);
    }
    let info = jobs.info();
    assert_eq!((info.messages_ready, info.messages_unacknowledged), (0, 0));
    worker.stop().await;
    s.service.stop().await;
    s.broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_case_insensitive() {
    let s = setup().await;
    let (_, assignment) = times10_assignment(&s.api).await;
    let sam = s.api.login("sam").await;
    let id = s.api.submit(&sam, assignment, TIMES10).await;
    let path = format!("/submissions/{id}");
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let res = s
            .api
            .http
            .get(s.api.url(&path))
            .header("authorization", format!("{scheme} {sam}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "scheme {scheme}");
    }
    // An upload with a lower-case scheme is accepted too.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(TIMES10.as_bytes().to_vec()).file_name("p.s"),
    );
    let res = s
        .api
        .http
        .post(s.api.url(&format!("/assignments/{assignment}/submissions")))
        .header("authorization", format!("bearer {sam}"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    // Another scheme with the same token is still refused.
    let res = s
        .api
        .http
        .get(s.api.url(&path))
        .header("authorization", format!("Token {sam}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    s.service.stop().await;
    s.broker.stop().await;
}

/// The README's curl walk-through, request for request (the same paths, headers and bodies,
/// the assignment's JSON read from the README itself), on a fresh service with the seed's
/// times10.s: the answers are the ones the README shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_walk_through() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("the repository's README");
    let walk = readme
        .split_once("A walk-through with curl:")
        .expect("the README has the walk-through")
        .1;
    let walk = &walk[..walk.find("The API:").expect("the walk-through ends")];
    // `curl ... -d '<body>'` for the assignment, and the answers shown as `# <json>` comments.
    let assignment_body = walk
        .lines()
        .find_map(|l| l.trim().strip_prefix("-d '")?.strip_suffix('\''))
        .expect("the assignment's body");
    let answers: Vec<&str> = walk
        .lines()
        .filter_map(|l| l.trim().strip_prefix("# "))
        .collect();
    assert_eq!(answers.len(), 3, "{walk}");

    let s = setup().await;
    let worker = start_worker(&s.amqp, 2).await;
    let http = &s.api.http;
    let url = |path: &str| s.api.url(path);
    let login = |user: &'static str, password: &'static str| async move {
        let res = http
            .post(url("/login"))
            .header("content-type", "application/json")
            .body(format!(
                "{{\"username\":\"{user}\",\"password\":\"{password}\"}}"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
    };
    let (t, s_token) = (login("tina", "tina-pw").await, login("sam", "sam-pw").await);
    let bearer = |token: &str| format!("Bearer {token}");

    let res = http
        .post(url("/assignments"))
        .header("authorization", bearer(&t))
        .header("content-type", "application/json")
        .body(assignment_body.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created, serde_json::from_str::<Value>(answers[0]).unwrap());

    // `-F file=@times10.s`: the seed's program, as a file part named times10.s.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(Fixture::times10().source.into_bytes())
            .file_name("times10.s"),
    );
    let res = http
        .post(url("/assignments/1/submissions"))
        .header("authorization", bearer(&s_token))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let queued: Value = res.json().await.unwrap();
    assert_eq!(queued, serde_json::from_str::<Value>(answers[1]).unwrap());

    // `GET /submissions/1` until graded; the README shows the graded answer, abridged.
    let graded = within(s.api.wait_graded(&s_token, 1)).await;
    assert!(
        answers[2].starts_with("{\"id\":1,") && answers[2].contains("\"status\":\"graded\""),
        "{}",
        answers[2]
    );
    assert_eq!(graded["id"], 1);
    assert_eq!(graded["status"], "graded");
    let r = &graded["result"];
    assert_eq!(
        (r["passed"].as_u64(), r["total"].as_u64()),
        (Some(1), Some(1)),
        "{graded}"
    );
    assert!(
        answers[2].contains("\"result\":{\"passed\":1,\"total\":1,\"cases\":[{\"passed\":true,"),
        "{}",
        answers[2]
    );
    assert_eq!(r["cases"][0]["passed"], true);

    // The teacher's list of the assignment's submissions.
    let res = http
        .get(url("/assignments/1/submissions"))
        .header("authorization", bearer(&t))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let all: Value = res.json().await.unwrap();
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all}");
    assert_eq!(all[0]["student"], "sam");
    assert_eq!(all[0]["status"], "graded");
    worker.stop().await;
    s.service.stop().await;
    s.broker.stop().await;
}
