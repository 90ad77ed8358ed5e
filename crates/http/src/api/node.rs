//! The node's health check, the cluster name, and queue rebalancing (a no-op on one node), in
//! RabbitMQ 3.10's shapes.

use axum::body::Bytes;
use axum::extract::{Path, State};
use serde_json::{json, Value};

use super::{no_content, node_name, ok, parse_body, ApiResult, S};
use crate::auth::{Tag, User};
use crate::error::ApiError;
use crate::AppState;

/// GET /api/healthchecks/node: `{"status":"ok"}` (RabbitMQ's old node health check).
pub(super) async fn healthcheck(User(_): User) -> ApiResult {
    ok(json!({"status": "ok"}))
}

/// GET /api/healthchecks/node/{node}: the same for this node; 404 for any other.
pub(super) async fn healthcheck_node(User(_): User, Path(node): Path<String>) -> ApiResult {
    if node != node_name() {
        return Err(ApiError::not_found());
    }
    ok(json!({"status": "ok"}))
}

/// The cluster name: the one set by PUT /api/cluster-name, else the node's name (RabbitMQ's
/// default).
pub(super) fn cluster_name_of(s: &AppState) -> String {
    s.broker.cluster_name().unwrap_or_else(node_name)
}

pub(super) async fn get_cluster_name(State(s): S, User(_): User) -> ApiResult {
    ok(json!({"name": cluster_name_of(&s)}))
}

/// PUT /api/cluster-name `{"name": ...}`: 204; kept as the global parameter `cluster_name`
/// (saved with the definitions, as RabbitMQ does).
pub(super) async fn put_cluster_name(State(s): S, User(u): User, body: Bytes) -> ApiResult {
    u.require(Tag::Administrator)?;
    let m = parse_body(&body)?;
    match m.get("name") {
        None => Err(ApiError::bad_request("[{key_missing,name}]")),
        Some(Value::String(name)) => {
            s.broker.change_settings_durably(|| {
                s.broker.set_cluster_name(name);
                Ok::<_, ApiError>(())
            })?;
            no_content()
        }
        Some(_) => Err(ApiError::bad_request("name must be a string")),
    }
}

/// POST /api/rebalance/queues: RabbitMQ starts moving queue leaders between nodes and answers
/// 204; on one node there is nothing to move.
pub(super) async fn rebalance_queues(User(u): User) -> ApiResult {
    u.require(Tag::Administrator)?;
    no_content()
}
