//! Short, count-limited perf runs against an in-process Warren (no timed assertions).

use std::sync::Arc;

use warren_perf::{run, PerfArgs};

async fn server() -> warren_server::RunningServer {
    warren_server::RunningServer::start(
        "127.0.0.1:0",
        Arc::new(warren_core::Broker::new(warren_core::Limits::default())),
    )
    .await
    .expect("server starts")
}

fn args(addr: std::net::SocketAddr, queue: &str) -> PerfArgs {
    PerfArgs {
        uri: format!("amqp://guest:guest@{addr}/%2f"),
        queue: queue.into(),
        quiet: true,
        ..PerfArgs::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirms_and_manual_acks_count_every_message() {
    let srv = server().await;
    let report = run(PerfArgs {
        pmessages: 2000,
        confirm: 100,
        qos: 50,
        ..args(srv.addr, "perf-confirms")
    })
    .await
    .expect("perf run");
    assert_eq!(report.sent, 2000);
    assert_eq!(report.confirmed, 2000);
    assert_eq!(report.nacked, 0);
    assert_eq!(report.received, 2000);
    let lat = report.latency.as_ref().expect("latencies");
    assert_eq!(lat.count, 2000);
    assert!(lat.p50_us <= lat.p99_us && lat.p99_us <= lat.p999_us);
    assert_eq!(
        report
            .confirm_latency
            .as_ref()
            .expect("confirm latencies")
            .count,
        2000
    );
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("JSON report");
    assert_eq!(json["sent"], 2000);
    assert_eq!(json["confirmed"], 2000);
    assert_eq!(json["received"], 2000);
    assert!(json["latency"]["p999_us"].is_u64());
    assert!(json["recv_rate"].is_f64());
    let line = report.result_line();
    assert!(
        line.starts_with("RESULT ")
            && line.contains(" sent=2000 ")
            && line.contains(" received=2000 "),
        "{line}"
    );
    // The queue was deleted at the end: a predeclared run finds none.
    let err = run(PerfArgs {
        pmessages: 1,
        predeclared: true,
        ..args(srv.addr, "perf-confirms")
    })
    .await
    .unwrap_err();
    assert!(format!("{err:#}").contains("404"), "{err:#}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_autoack_multi_producer_and_multi_ack() {
    let srv = server().await;
    // 2 producers -> fanout exchange -> 3 queues, one autoack consumer each.
    let report = run(PerfArgs {
        producers: 2,
        consumers: 3,
        queues: 3,
        exchange: "perf-fanout".into(),
        exchange_type: "fanout".into(),
        autoack: true,
        pmessages: 1500,
        size: 1000,
        ..args(srv.addr, "perf-fan")
    })
    .await
    .expect("fanout run");
    assert_eq!(report.sent, 3000);
    assert_eq!(report.received, 9000);

    // Large messages split over several body frames, multiple acks, consumer count limit.
    let report = run(PerfArgs {
        pmessages: 300,
        size: 300_000,
        multi_ack: 7,
        qos: 20,
        persistent: true,
        ..args(srv.addr, "perf-big")
    })
    .await
    .expect("big-message run");
    assert_eq!((report.sent, report.received), (300, 300));

    // Backlog, then drain with -D and -x0.
    let report = run(PerfArgs {
        consumers: 0,
        pmessages: 5000,
        keep: true,
        wait_enqueued: true,
        ..args(srv.addr, "perf-backlog")
    })
    .await
    .expect("publish-only run");
    assert_eq!(report.sent, 5000);
    assert!(report.enq_rate.is_some());
    let report = run(PerfArgs {
        producers: 0,
        cmessages: 5000,
        autoack: true,
        predeclared: true,
        ..args(srv.addr, "perf-backlog")
    })
    .await
    .expect("drain run");
    assert_eq!(report.received, 5000);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_reported() {
    let srv = server().await;
    let err = run(PerfArgs {
        pmessages: 10,
        predeclared: true,
        ..args(srv.addr, "no-such-queue")
    })
    .await
    .unwrap_err();
    assert!(format!("{err:#}").contains("404"), "{err:#}");
    let err = run(PerfArgs {
        pmessages: 10,
        uri: format!("amqp://guest:wrong@{}/%2f", srv.addr),
        ..args(srv.addr, "q")
    })
    .await
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("403") || format!("{err:#}").contains("closed"),
        "{err:#}"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn main_works_from_inside_a_runtime() {
    let srv = server().await;
    let a = PerfArgs {
        pmessages: 500,
        json: true,
        threads: Some(1),
        ..args(srv.addr, "perf-main")
    };
    // `main` blocks: run it off the async workers, as a sync caller would
    // from inside `Runtime::block_on`.
    tokio::task::block_in_place(|| warren_perf::main(a)).expect("main");
    srv.stop().await;
}
