//! Prometheus metrics in the text exposition format (0.0.4), with the names, types, labels and
//! endpoints of RabbitMQ's `rabbitmq_prometheus` plugin, so its Grafana dashboards work
//! unchanged:
//!
//! - `/metrics`: every metric group aggregated (no per-object labels), RabbitMQ's global
//!   counters (`rabbitmq_global_*`), the message size histogram and the identity;
//! - `/metrics/per-object`: the same with one series per queue (`{vhost,queue}`);
//! - `/metrics/detailed?family=F&vhost=V`: only the groups named (RabbitMQ's family names,
//!   [`families::GROUPS`]), per object, prefixed `rabbitmq_detailed_`, queues of the vhosts
//!   named (all without `vhost`).
//!
//! Everything is read at scrape time from counters the message path keeps per object
//! (relaxed atomics, see `warren_core::stats`): a scrape costs the hot path nothing.

mod families;
mod text;

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::AppState;

pub use families::GROUPS;

/// The metrics routes (on the management listener and on `--prometheus-listen`).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/metrics", get(aggregated))
        .route("/metrics/per-object", get(per_object))
        .route("/metrics/detailed", get(detailed))
}

/// What a scrape asks for.
pub(crate) enum View {
    Aggregated,
    PerObject,
    /// Groups named by `family`, queues of the vhosts named by `vhost` (None: all).
    Detailed {
        groups: Vec<String>,
        vhosts: Option<Vec<String>>,
    },
}

fn body(text: String) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

async fn aggregated(State(s): State<Arc<AppState>>) -> impl IntoResponse {
    body(families::render(&s, &View::Aggregated))
}

async fn per_object(State(s): State<Arc<AppState>>) -> impl IntoResponse {
    body(families::render(&s, &View::PerObject))
}

/// `family` and `vhost` may repeat (`?family=a&family=b`), as RabbitMQ takes them. A vhost
/// that does not exist is ignored, as RabbitMQ does; so is an unknown family.
async fn detailed(
    State(s): State<Arc<AppState>>,
    Query(q): Query<Vec<(String, String)>>,
) -> impl IntoResponse {
    let mut groups = Vec::new();
    let mut vhosts: Option<Vec<String>> = None;
    for (k, v) in q {
        match k.as_str() {
            "family" => groups.push(v),
            "vhost" => vhosts.get_or_insert_with(Vec::new).push(v),
            _ => {}
        }
    }
    body(families::render(&s, &View::Detailed { groups, vhosts }))
}
