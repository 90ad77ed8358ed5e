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
    let (teacher, assignment) = times10_assignment(&s.api).await;
    let sam = s.api.login("sam").await;

    // A correct program passes every case.
    let ok = s.api.submit(&sam, assignment, TIMES10).await;
    let graded = within(s.api.wait_graded(&sam, ok)).await;
    let r = &graded["result"];
    assert_eq!(
        (r["passed"].as_u64(), r["total"].as_u64()),
        (Some(3), Some(3)),
        "{graded}"
    );
    assert_eq!(graded["student"], "sam");
    assert_eq!(graded["assignment_id"], assignment);
    for case in r["cases"].as_array().unwrap() {
        assert_eq!(case["passed"], true);
        assert!(case.get("diff").is_none());
    }

    // A wrong one fails, with the diff of each case.
    let wrong = s.api.submit(&sam, assignment, &times11()).await;
    let graded = within(s.api.wait_graded(&sam, wrong)).await;
    let r = &graded["result"];
    assert_eq!(r["passed"], 0);
    assert_eq!(r["total"], 3);
    let first = &r["cases"][0];
    assert_eq!(first["passed"], false);
    assert_eq!(
        first["actual_stdout"],
        "Please, type a number: The result is 44\n"
    );
    let diff = first["diff"].as_str().unwrap();
    assert!(
        diff.contains("-Please, type a number: The result is 40")
            && diff.contains("+Please, type a number: The result is 44"),
        "{diff}"
    );

    // An assembly error is a graded result naming the line, not a crash.
    let bad_source = TIMES10.replace("mul  $t0, $v0, 10", "mull $t0, $v0, 10");
    let bad = s.api.submit(&sam, assignment, &bad_source).await;
    let graded = within(s.api.wait_graded(&sam, bad)).await;
    let r = &graded["result"];
    assert_eq!(
        (r["passed"].as_u64(), r["total"].as_u64()),
        (Some(0), Some(3))
    );
    assert_eq!(r["cases"].as_array().unwrap().len(), 0);
    let error = r["error"].as_str().unwrap();
    assert!(
        error.starts_with("prog.s:10: error: unknown instruction 'mull'"),
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
    let again = s.api.submit(&sam, assignment, TIMES10).await;
    let graded = within(s.api.wait_graded(&sam, again)).await;
    assert_eq!(graded["result"]["passed"], 3);

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
    assert_eq!(teacher_view["result"]["passed"], 3);

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

    let started = Instant::now();
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(s.api.submit(&sam, assignment, TIMES10).await);
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "5 uploads took {:?}",
        started.elapsed()
    );
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
    let started = Instant::now();
    let spin = s.api.submit(&sam, assignment, LOOP_FOREVER).await;
    let graded = within(s.api.wait_graded(&sam, spin)).await;
    let took = started.elapsed();
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
    // Without the limit the same job would have taken all three cases.
    let one_case = Instant::now();
    let program = mips::assemble(LOOP_FOREVER, "p.s").unwrap();
    let _ = program.run(
        b"",
        mips::Limits {
            max_steps: 30_000_000,
            ..mips::Limits::default()
        },
    );
    assert!(
        took < one_case.elapsed() * 3,
        "graded after {took:?}: not after three full cases"
    );
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
