//! The `/api` routes, in RabbitMQ's shapes and field names.
//!
//! Each handler checks the tag its route needs (see [`crate::auth`]), reads the broker through
//! `warren_core`'s accessors, and answers JSON. Names in paths are percent-decoded by axum
//! (`%2F` is the vhost `/`); the default exchange is `amq.default` in paths, `""` in bodies.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::Digest;
use warren_amqp::{BasicProperties, ExchangeDeclare, FieldTable, QueueDeclare, Route, ShortStr};
use warren_core::definitions::{json_to_table, table_to_json};
use warren_core::{
    AmqpError, Binding, ChannelInfo, ConnectionEntry, Definitions, Destination, Exchange,
    ExchangeKind, Message, MessageStats, Queue, VHost,
};

use crate::auth::{Principal, Tag, User};
use crate::error::ApiError;
use crate::paging::ListQuery;
use crate::rates::Rates;
use crate::AppState;
use warren_auth::{Access, ResourceKind};

mod limits;
mod node;
mod parameters;
mod users;

type S = State<Arc<AppState>>;

/// A change to users and permissions, saved before the reply: if the definitions file cannot
/// be written, the user database is put back as it was and the answer is 500.
fn auth_change<T>(
    s: &AppState,
    f: impl FnOnce(&warren_auth::AuthDb) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    s.broker.change_settings_durably(|| f(s.broker.auth()))
}
type ApiResult = Result<Response, ApiError>;

/// How long a connection has to describe its channels before we list it without them.
const INSPECT_TIMEOUT: Duration = Duration::from_millis(1000);

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/overview", get(overview))
        .route(
            "/api/cluster-name",
            get(node::get_cluster_name).put(node::put_cluster_name),
        )
        .route("/api/healthchecks/node", get(node::healthcheck))
        .route("/api/healthchecks/node/{node}", get(node::healthcheck_node))
        .route("/api/rebalance/queues", post(node::rebalance_queues))
        .route("/api/nodes", get(nodes))
        .route("/api/nodes/{node}", get(node))
        .route("/api/extensions", get(extensions))
        .route("/api/whoami", get(whoami))
        .route("/api/auth/token", post(issue_token))
        .route("/api/vhosts", get(list_vhosts))
        .route(
            "/api/vhosts/{vhost}",
            get(get_vhost).put(put_vhost).delete(delete_vhost),
        )
        .route("/api/vhosts/{vhost}/connections", get(vhost_connections))
        .route("/api/vhosts/{vhost}/channels", get(vhost_channels))
        .route("/api/vhosts/{vhost}/permissions", get(vhost_permissions))
        .route(
            "/api/vhosts/{vhost}/topic-permissions",
            get(users::vhost_topic_permissions),
        )
        .route("/api/users", get(list_users))
        .route(
            "/api/users/without-permissions",
            get(users::without_permissions),
        )
        .route("/api/users/bulk-delete", post(users::bulk_delete))
        .route(
            "/api/users/{user}/topic-permissions",
            get(users::user_topic_permissions),
        )
        .route(
            "/api/users/{user}",
            get(get_user).put(put_user).delete(delete_user),
        )
        .route("/api/users/{user}/permissions", get(user_permissions))
        .route("/api/permissions", get(list_permissions))
        .route(
            "/api/permissions/{vhost}/{user}",
            get(get_permission)
                .put(put_permission)
                .delete(delete_permission),
        )
        .route("/api/topic-permissions", get(list_topic_permissions))
        .route(
            "/api/topic-permissions/{vhost}/{user}",
            get(users::get_topic_permissions)
                .put(put_topic_permission)
                .delete(delete_topic_permission),
        )
        .route("/api/exchanges", get(list_exchanges))
        .route("/api/exchanges/{vhost}", get(list_exchanges_vhost))
        .route(
            "/api/exchanges/{vhost}/{name}",
            get(get_exchange).put(put_exchange).delete(delete_exchange),
        )
        .route(
            "/api/exchanges/{vhost}/{name}/bindings/source",
            get(exchange_bindings_source),
        )
        .route(
            "/api/exchanges/{vhost}/{name}/bindings/destination",
            get(exchange_bindings_destination),
        )
        .route("/api/exchanges/{vhost}/{name}/publish", post(publish))
        .route("/api/queues", get(list_queues))
        .route("/api/queues/{vhost}", get(list_queues_vhost))
        .route(
            "/api/queues/{vhost}/{name}",
            get(get_queue).put(put_queue).delete(delete_queue),
        )
        .route("/api/queues/{vhost}/{name}/bindings", get(queue_bindings))
        .route(
            "/api/queues/{vhost}/{name}/contents",
            axum::routing::delete(purge_queue),
        )
        .route("/api/queues/{vhost}/{name}/get", post(get_messages))
        .route("/api/bindings", get(list_bindings))
        .route("/api/bindings/{vhost}", get(list_bindings_vhost))
        .route(
            "/api/bindings/{vhost}/e/{source}/{kind}/{dest}",
            get(bindings_between).post(create_binding),
        )
        .route(
            "/api/bindings/{vhost}/e/{source}/{kind}/{dest}/{props}",
            get(get_binding).delete(delete_binding),
        )
        .route("/api/connections", get(list_connections))
        .route(
            "/api/connections/{name}",
            get(get_connection).delete(close_connection),
        )
        .route("/api/connections/{name}/channels", get(connection_channels))
        .route(
            "/api/connections/username/{user}",
            get(users::user_connections).delete(users::close_user_connections),
        )
        .route("/api/channels", get(list_channels))
        .route("/api/channels/{name}", get(get_channel))
        .route("/api/consumers", get(list_consumers))
        .route("/api/consumers/{vhost}", get(list_consumers_vhost))
        .route("/api/definitions", get(export_all).post(import_all))
        .route(
            "/api/definitions/{vhost}",
            get(export_vhost).post(import_vhost),
        )
        .route("/api/policies", get(list_policies))
        .route("/api/policies/{vhost}", get(list_policies_vhost))
        .route(
            "/api/policies/{vhost}/{name}",
            get(get_policy).put(put_policy).delete(delete_policy),
        )
        .route("/api/operator-policies", get(empty_list))
        .route("/api/vhost-limits", get(limits::list_vhost_limits))
        .route("/api/vhost-limits/{vhost}", get(limits::get_vhost_limits))
        .route(
            "/api/vhost-limits/{vhost}/{name}",
            axum::routing::put(limits::put_vhost_limit).delete(limits::delete_vhost_limit),
        )
        .route("/api/user-limits", get(limits::list_user_limits))
        .route("/api/user-limits/{user}", get(limits::get_user_limits))
        .route(
            "/api/user-limits/{user}/{name}",
            axum::routing::put(limits::put_user_limit).delete(limits::delete_user_limit),
        )
        .route("/api/feature-flags", get(empty_list))
        .route("/api/deprecated-features", get(empty_list))
        .route("/api/federation-links", get(empty_list))
        .route("/api/shovels", get(empty_list))
        .route("/api/auth", get(auth_settings))
        .route("/api/parameters", get(parameters::list_all))
        .route(
            "/api/parameters/{component}",
            get(parameters::list_component),
        )
        .route(
            "/api/parameters/{component}/{vhost}",
            get(parameters::list_component_vhost),
        )
        .route(
            "/api/parameters/{component}/{vhost}/{name}",
            get(parameters::get_parameter)
                .put(parameters::put_parameter)
                .delete(parameters::delete_parameter),
        )
        .route("/api/global-parameters", get(parameters::list_global))
        .route(
            "/api/global-parameters/{name}",
            get(parameters::get_global)
                .put(parameters::put_global)
                .delete(parameters::delete_global),
        )
        .route("/api/health/checks/alarms", get(health_alarms))
        .route("/api/health/checks/local-alarms", get(health_alarms))
        .route(
            "/api/health/checks/port-listener/{port}",
            get(health_port_listener),
        )
        .route(
            "/api/health/checks/protocol-listener/{protocol}",
            get(health_protocol_listener),
        )
        .route("/api/health/checks/virtual-hosts", get(health_ok))
        .route("/api/health/checks/node-is-quorum-critical", get(health_ok))
        .route(
            "/api/health/checks/node-is-mirror-sync-critical",
            get(health_ok),
        )
        .route(
            "/api/health/checks/certificate-expiration/{n}/{unit}",
            get(health_ok),
        )
        .route("/api/aliveness-test/{vhost}", get(aliveness_test))
        .route("/api/overview/history", get(overview_history))
        .route(
            "/api/{*rest}",
            get(not_found)
                .put(not_found)
                .post(not_found)
                .delete(not_found),
        )
}

// ---------------------------------------------------------------------------------------------
// helpers

fn ok(v: Value) -> ApiResult {
    Ok(Json(v).into_response())
}

fn no_content() -> ApiResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn created() -> ApiResult {
    Ok(StatusCode::CREATED.into_response())
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

async fn empty_list(User(_): User) -> ApiResult {
    ok(json!([]))
}

/// What the login page needs to know (RabbitMQ's UI asks before logging in): no OAuth
/// redirect flow here; tokens are pasted or come from POST /api/auth/token.
async fn auth_settings(State(s): S) -> ApiResult {
    ok(json!({
        "oauth_enabled": false,
        "token_issuer": s.token_issuer.is_some(),
        "jwt": s.broker.jwt_verifier().is_some(),
    }))
}

/// The node's name, as RabbitMQ's `rabbit@host`.
pub fn node_name() -> String {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(read_node_name).clone()
}

fn read_node_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string());
    format!("warren@{host}")
}

fn vhost(state: &AppState, name: &str) -> Result<Arc<VHost>, ApiError> {
    state.broker.vhost(name).ok_or_else(ApiError::not_found)
}

/// The vhost named in a path, if the user may see it.
fn user_vhost(state: &AppState, u: &Principal, name: &str) -> Result<Arc<VHost>, ApiError> {
    let v = vhost(state, name)?;
    u.require_vhost(name)?;
    Ok(v)
}

/// Vhosts visible to the user.
fn visible_vhosts(state: &AppState, u: &Principal) -> Vec<Arc<VHost>> {
    state
        .broker
        .vhosts()
        .into_iter()
        .filter(|v| u.can_access_vhost(&v.name))
        .collect()
}

/// The default exchange is `amq.default` in paths.
fn exchange_name(path_name: &str) -> &str {
    if path_name == "amq.default" {
        ""
    } else {
        path_name
    }
}

fn find_queue(v: &VHost, name: &str) -> Result<Arc<Queue>, ApiError> {
    match v.queue(name, 0) {
        Ok(q) => Ok(q),
        // Exclusive queues are visible to the management API whoever owns them.
        Err(e) if e.code == warren_amqp::reply_code::RESOURCE_LOCKED => v
            .queues()
            .into_iter()
            .find(|q| q.name.as_str() == name)
            .ok_or_else(ApiError::not_found),
        Err(_) => Err(ApiError::not_found()),
    }
}

fn short(s: &str) -> Result<ShortStr, ApiError> {
    ShortStr::try_from(s).map_err(|_| ApiError::bad_request(format!("name too long: '{s}'")))
}

fn parse_body(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::bad_request("body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!("invalid JSON: {e}"))),
    }
}

fn body_bool(m: &Map<String, Value>, key: &str, default: bool) -> Result<bool, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s == "true" => Ok(true),
        Some(Value::String(s)) if s == "false" => Ok(false),
        Some(other) => Err(ApiError::bad_request(format!(
            "{key} must be a boolean, got {other}"
        ))),
    }
}

fn body_str<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    m.get(key).and_then(Value::as_str)
}

fn body_args(m: &Map<String, Value>) -> Result<FieldTable, ApiError> {
    match m.get("arguments") {
        None | Some(Value::Null) => Ok(FieldTable::new()),
        Some(Value::Object(o)) => Ok(json_to_table(o)),
        // rabbitmqadmin may send an empty list for no arguments.
        Some(Value::Array(a)) if a.is_empty() => Ok(FieldTable::new()),
        Some(_) => Err(ApiError::bad_request("arguments must be a JSON object")),
    }
}

fn details(rate: f64) -> Value {
    json!({ "rate": rate })
}

/// RabbitMQ's `message_stats` object: counts and their `_details.rate`.
fn message_stats(s: &MessageStats, r: &Rates) -> Value {
    json!({
        "publish": s.publish, "publish_details": details(r.publish),
        "deliver": s.deliver, "deliver_details": details(r.deliver),
        "deliver_no_ack": s.deliver_no_ack, "deliver_no_ack_details": details(r.deliver_no_ack),
        "get": s.get, "get_details": details(r.get),
        "get_no_ack": s.get_no_ack, "get_no_ack_details": details(r.get_no_ack),
        "ack": s.ack, "ack_details": details(r.ack),
        "redeliver": s.redeliver, "redeliver_details": details(r.redeliver),
        "deliver_get": s.deliver_get(), "deliver_get_details": details(r.deliver_get),
        "confirm": s.confirm, "confirm_details": details(r.confirm),
        "return_unroutable": s.return_unroutable, "return_unroutable_details": details(r.return_unroutable),
        "drop_unroutable": s.drop_unroutable, "drop_unroutable_details": details(r.drop_unroutable),
        "get_empty": s.get_empty, "get_empty_details": details(r.get_empty),
    })
}

fn load(a: &std::sync::atomic::AtomicU64) -> u64 {
    a.load(std::sync::atomic::Ordering::Relaxed)
}

// ---------------------------------------------------------------------------------------------
// JSON shapes

fn queue_json(state: &AppState, q: &Queue) -> Value {
    let info = q.info();
    let stats = q.counters.snapshot();
    let rates = state.rates.queue(&q.vhost, &q.name);
    let node = node_name();
    let consumers = info.consumers.len();
    let policy = q.policy_name();
    let effective = policy
        .as_ref()
        .and_then(|name| {
            state
                .broker
                .vhost(&q.vhost)?
                .policies()
                .into_iter()
                .find(|p| p.name == *name)
        })
        .map_or_else(|| json!({}), |p| Value::Object(p.definition.clone()));
    let sac = q.args.single_active_consumer;
    let sac_tag = info
        .consumers
        .first()
        .filter(|_| sac)
        .map_or(Value::Null, |c| Value::String(c.tag.to_string()));
    let consumer_details: Vec<Value> = info
        .consumers
        .iter()
        .map(|c| consumer_detail(state, q, c))
        .collect();
    let exclusive_tag = info
        .consumers
        .iter()
        .find(|c| c.exclusive)
        .map(|c| Value::String(c.tag.to_string()))
        .unwrap_or(Value::Null);
    let mut v = json!({
        "name": q.name.as_str(),
        "vhost": q.vhost.as_str(),
        "durable": q.durable,
        "auto_delete": q.auto_delete,
        "exclusive": q.exclusive_owner.is_some(),
        "arguments": table_to_json(&q.arguments),
        "node": node,
        "type": "classic",
        "state": "running",
        "policy": policy.as_ref().map(|p| p.as_str()),
        "effective_policy_definition": effective,
        "operator_policy": Value::Null,
        "messages": info.messages_ready + info.messages_unacknowledged,
        "messages_details": details(rates.gauges[0]),
        "messages_ready": info.messages_ready,
        "messages_ready_details": details(rates.gauges[1]),
        "messages_unacknowledged": info.messages_unacknowledged,
        "messages_unacknowledged_details": details(rates.gauges[2]),
        // As RabbitMQ: message_bytes and the _ram / _persistent counts cover ready and
        // unacknowledged messages; an unacknowledged body stays in memory until settled.
        "message_bytes": info.message_bytes_ready + info.message_bytes_unacknowledged,
        "message_bytes_ready": info.message_bytes_ready,
        "message_bytes_unacknowledged": info.message_bytes_unacknowledged,
        "message_bytes_ram": info.message_bytes_ready_ram + info.message_bytes_unacknowledged,
        "messages_ram": info.messages_ready_ram + info.messages_unacknowledged,
        "consumers": consumers,
        "consumer_capacity": if consumers > 0 { 1.0 } else { 0.0 },
        "consumer_utilisation": if consumers > 0 { 1.0 } else { 0.0 },
        "exclusive_consumer_tag": exclusive_tag,
        "messages_ready_ram": info.messages_ready_ram,
        "messages_unacknowledged_ram": info.messages_unacknowledged,
        "messages_paged_out": info.messages_ready - info.messages_ready_ram,
        "message_bytes_paged_out": info.message_bytes_ready - info.message_bytes_ready_ram,
        "head_message_timestamp": Value::Null,
        "recoverable_slaves": Value::Null,
        "incoming": [],
        "deliveries": [],
        "consumer_details": consumer_details,
        "single_active_consumer_tag": sac_tag,
        "idle_since": format_time(info.last_used),
        "memory": info.memory,
        "message_stats": message_stats(&stats, &rates),
    });
    // (Set apart: one json! of every field passes the macro's recursion limit.)
    v["messages_persistent"] = json!(info.messages_persistent);
    v["message_bytes_persistent"] = json!(info.message_bytes_persistent);
    if let Some(owner) = q.exclusive_owner {
        if let Some(c) = state.broker.connections.get(owner) {
            v["owner_pid_details"] = json!({
                "name": c.name,
                "peer_host": c.peer.ip().to_string(),
                "peer_port": c.peer.port(),
            });
        }
    }
    v
}

/// One of a queue's consumers as a queue or a channel lists it (`consumer_details`).
fn consumer_detail(state: &AppState, q: &Queue, c: &warren_core::ConsumerInfo) -> Value {
    let conn = state.broker.connections.get(c.connection);
    json!({
        "consumer_tag": c.tag.as_str(),
        "channel_details": conn.as_ref().map(|e| json!({
            "name": channel_name(e, c.channel),
            "number": c.channel,
            "connection_name": e.name,
            "peer_host": e.peer.ip().to_string(),
            "peer_port": e.peer.port(),
            "user": e.user,
            "node": node_name(),
        })),
        "queue": {"name": q.name.as_str(), "vhost": q.vhost.as_str()},
        "ack_required": !c.no_ack,
        "exclusive": c.exclusive,
        "prefetch_count": c.prefetch,
        "active": c.active,
        "activity_status": activity_status(c, q.args.single_active_consumer),
        "arguments": consumer_arguments(c),
    })
}

/// "2024-01-01T00:00:00.000+00:00"-ish: RabbitMQ formats `idle_since` as
/// "YYYY-MM-DD HH:MM:SS"; we keep that shape (UTC).
fn format_time(ms: u64) -> String {
    let secs = ms / 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 -> (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// RabbitMQ's `activity_status`: `up`, or `single_active` / `waiting` on a single active
/// consumer queue.
fn activity_status(c: &warren_core::ConsumerInfo, sac: bool) -> &'static str {
    match (sac, c.active) {
        (false, _) => "up",
        (true, true) => "single_active",
        (true, false) => "waiting",
    }
}

fn consumer_arguments(c: &warren_core::ConsumerInfo) -> Value {
    if c.priority != 0 {
        json!({"x-priority": c.priority})
    } else {
        json!({})
    }
}

/// An exchange's `message_stats` as RabbitMQ shows it: absent until a message was published
/// to the exchange; `publish_out` only once one was routed out of it.
fn exchange_stats(state: &AppState, v: &VHost, x: &Exchange) -> Option<Value> {
    let (publish_in, publish_out) = x.counters.snapshot();
    if publish_in == 0 && publish_out == 0 {
        return None;
    }
    let rates = state.rates.exchange(&v.name, &x.name);
    let mut m = Map::new();
    m.insert("publish_in".into(), json!(publish_in));
    m.insert("publish_in_details".into(), details(rates.gauges[0]));
    if publish_out > 0 {
        m.insert("publish_out".into(), json!(publish_out));
        m.insert("publish_out_details".into(), details(rates.gauges[1]));
    }
    Some(Value::Object(m))
}

fn exchange_json(state: &AppState, v: &VHost, x: &Exchange) -> Value {
    let mut j = json!({
        "name": x.name.as_str(),
        "vhost": v.name.as_str(),
        "type": x.kind.as_str(),
        "durable": x.durable,
        "auto_delete": x.auto_delete,
        "internal": x.internal,
        "arguments": table_to_json(&x.arguments),
        "policy": x.policy_name().as_ref().map(|p| p.as_str()),
        "user_who_performed_action": "rmq-internal",
        "incoming": [],
        "outgoing": [],
    });
    if let Some(stats) = exchange_stats(state, v, x) {
        j["message_stats"] = stats;
    }
    j
}

/// RabbitMQ's `properties_key`: the routing key, escaped, plus `~` and a hash of the
/// arguments when there are any; `~` alone for an empty key without arguments.
fn properties_key(routing_key: &str, args: &FieldTable) -> String {
    let quote = |s: &str| -> String {
        let mut out = String::new();
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || b"-_.!*'()".contains(&b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    };
    if args.is_empty() {
        if routing_key.is_empty() {
            return "~".to_string();
        }
        return quote(routing_key);
    }
    let canonical = serde_json::to_string(&table_to_json(args)).unwrap_or_default();
    let hash = sha2::Sha256::digest(canonical.as_bytes());
    let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&hash[..16]);
    format!("{}~{}", quote(routing_key), enc)
}

/// One binding as listed.
struct BindingRow {
    vhost: String,
    source: String,
    destination: String,
    destination_type: &'static str,
    routing_key: String,
    arguments: FieldTable,
}

impl BindingRow {
    fn from(v: &VHost, source: &Exchange, b: &Binding) -> BindingRow {
        BindingRow {
            vhost: v.name.to_string(),
            source: source.name.to_string(),
            destination: b.destination.name().to_string(),
            destination_type: match b.destination {
                Destination::Queue(_) => "queue",
                Destination::Exchange(_) => "exchange",
            },
            routing_key: b.routing_key.to_string(),
            arguments: b.arguments.clone(),
        }
    }

    /// The default exchange's implicit binding to a queue.
    fn default_for(v: &VHost, q: &Queue) -> BindingRow {
        BindingRow {
            vhost: v.name.to_string(),
            source: String::new(),
            destination: q.name.to_string(),
            destination_type: "queue",
            routing_key: q.name.to_string(),
            arguments: FieldTable::new(),
        }
    }

    fn json(&self) -> Value {
        json!({
            "source": self.source,
            "vhost": self.vhost,
            "destination": self.destination,
            "destination_type": self.destination_type,
            "routing_key": self.routing_key,
            "arguments": table_to_json(&self.arguments),
            "properties_key": properties_key(&self.routing_key, &self.arguments),
        })
    }
}

/// Every binding of a vhost, the default exchange's implicit ones first (as RabbitMQ).
fn vhost_bindings(v: &VHost) -> Vec<BindingRow> {
    let mut queues = v.queues();
    queues.sort_by(|a, b| a.name.cmp(&b.name));
    let mut rows: Vec<BindingRow> = queues
        .iter()
        .map(|q| BindingRow::default_for(v, q))
        .collect();
    let mut xs = v.exchanges();
    xs.sort_by(|a, b| a.name.cmp(&b.name));
    for x in xs.iter().filter(|x| !x.is_default()) {
        for b in x.bindings() {
            rows.push(BindingRow::from(v, x, &b));
        }
    }
    rows
}

fn connection_state(state: &AppState, c: &ConnectionEntry) -> &'static str {
    if state.broker.current_alarm().is_some() {
        if c.published.load(std::sync::atomic::Ordering::Relaxed) {
            "blocked"
        } else {
            "blocking"
        }
    } else {
        "running"
    }
}

fn connection_json(state: &AppState, c: &ConnectionEntry) -> Value {
    let rates = state.rates.connection(c.id);
    let props = c.client_properties();
    json!({
        "name": c.name,
        "node": node_name(),
        "vhost": c.vhost,
        "user": c.user,
        "user_who_performed_action": c.user,
        "auth_mechanism": c.auth_mechanism,
        "protocol": "AMQP 0-9-1",
        "type": "network",
        "ssl": c.tls,
        "state": connection_state(state, c),
        "channels": load(&c.channels),
        "channel_max": c.channel_max,
        "frame_max": c.frame_max,
        "timeout": c.heartbeat,
        "connected_at": c.connected_at,
        "host": c.local.map(|l| l.ip().to_string()),
        "port": c.local.map(|l| l.port()),
        "peer_host": c.peer.ip().to_string(),
        "peer_port": c.peer.port(),
        "client_properties": props,
        "user_provided_name": props.get("connection_name").cloned().unwrap_or(Value::Null),
        "ssl_protocol": Value::Null,
        "ssl_cipher": Value::Null,
        "ssl_hash": Value::Null,
        "ssl_key_exchange": Value::Null,
        "peer_cert_issuer": Value::Null,
        "peer_cert_subject": Value::Null,
        "peer_cert_validity": Value::Null,
        "recv_oct": load(&c.recv_oct),
        "recv_oct_details": details(rates.gauges[0]),
        "send_oct": load(&c.send_oct),
        "send_oct_details": details(rates.gauges[1]),
        "recv_cnt": 0,
        "send_cnt": 0,
        "send_pend": 0,
        "message_stats": {
            "publish": c.counters.snapshot().publish,
            "publish_details": details(rates.publish),
            "confirm": c.counters.snapshot().confirm,
            "confirm_details": details(rates.confirm),
        },
    })
}

fn channel_name(c: &ConnectionEntry, number: u16) -> String {
    format!("{} ({number})", c.name)
}

fn channel_json(state: &AppState, c: &ConnectionEntry, ch: &ChannelInfo) -> Value {
    let st = if ch.closing {
        "closing"
    } else if connection_state(state, c) == "blocked" {
        "flow"
    } else {
        "running"
    };
    let mut v = json!({
        "name": channel_name(c, ch.number),
        "node": node_name(),
        "number": ch.number,
        "vhost": c.vhost,
        "user": c.user,
        "user_who_performed_action": c.user,
        "connection_details": {
            "name": c.name,
            "peer_host": c.peer.ip().to_string(),
            "peer_port": c.peer.port(),
        },
        "state": st,
        "consumer_count": ch.consumer_count,
        "prefetch_count": ch.prefetch_count,
        "global_prefetch_count": ch.global_prefetch_count,
        "messages_unacknowledged": ch.messages_unacknowledged,
        "messages_unconfirmed": ch.messages_unconfirmed,
        "messages_uncommitted": ch.messages_uncommitted,
        "acks_uncommitted": 0,
        "confirm": ch.confirm,
        "transactional": ch.transactional,
        "pending_raft_commands": 0,
    });
    if let Some(stats) = channel_stats(&ch.counts, &state.rates.channel(c.id, ch.number)) {
        v["message_stats"] = stats;
    }
    v
}

/// A channel's `message_stats` as RabbitMQ shows it: the publishing counts once it has
/// published (or had a publish confirmed, returned or dropped), the delivering ones once it
/// has had a delivery, get or ack, each with its `_details.rate`; absent on a channel that
/// did neither.
fn channel_stats(s: &MessageStats, r: &Rates) -> Option<Value> {
    let mut m = Map::new();
    let mut put = |name: &str, count: u64, rate: f64| {
        m.insert(name.into(), json!(count));
        m.insert(format!("{name}_details"), details(rate));
    };
    if s.publish + s.confirm + s.return_unroutable + s.drop_unroutable > 0 {
        put("publish", s.publish, r.publish);
        put("confirm", s.confirm, r.confirm);
        put(
            "return_unroutable",
            s.return_unroutable,
            r.return_unroutable,
        );
        put("drop_unroutable", s.drop_unroutable, r.drop_unroutable);
    }
    if s.deliver_get() + s.ack + s.get_empty + s.redeliver > 0 {
        put("ack", s.ack, r.ack);
        put("deliver", s.deliver, r.deliver);
        put("deliver_get", s.deliver_get(), r.deliver_get);
        put("deliver_no_ack", s.deliver_no_ack, r.deliver_no_ack);
        put("get", s.get, r.get);
        put("get_empty", s.get_empty, r.get_empty);
        put("get_no_ack", s.get_no_ack, r.get_no_ack);
        put("redeliver", s.redeliver, r.redeliver);
    }
    (!m.is_empty()).then_some(Value::Object(m))
}

/// Connections the user may see: all for monitoring, else their own.
fn visible_connections(state: &AppState, u: &Principal) -> Vec<Arc<ConnectionEntry>> {
    let all = state.broker.connections.list();
    if u.satisfies(Tag::Monitoring) {
        all
    } else {
        all.into_iter().filter(|c| c.user == u.username).collect()
    }
}

/// Asks each connection for its channels, all at once, each bounded by [`INSPECT_TIMEOUT`].
async fn channels_of(
    conns: Vec<Arc<ConnectionEntry>>,
) -> Vec<(Arc<ConnectionEntry>, Vec<ChannelInfo>)> {
    let pending: Vec<_> = conns
        .into_iter()
        .map(|c| {
            let rx = c.inspect();
            (c, rx)
        })
        .collect();
    let mut out = Vec::with_capacity(pending.len());
    let deadline = tokio::time::Instant::now() + INSPECT_TIMEOUT;
    for (c, rx) in pending {
        let chans = match rx {
            Some(rx) => tokio::time::timeout_at(deadline, rx)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default(),
            None => Vec::new(),
        };
        out.push((c, chans));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// overview, nodes, vhosts, users

async fn overview(State(s): S, User(u): User) -> ApiResult {
    let vhosts = visible_vhosts(&s, &u);
    let (mut queues, mut exchanges, mut consumers, mut ready, mut unacked) = (0, 0, 0, 0, 0);
    for v in &vhosts {
        exchanges += v.exchanges().len();
        for q in v.queues() {
            let i = q.info();
            queues += 1;
            consumers += i.consumers.len();
            ready += i.messages_ready;
            unacked += i.messages_unacknowledged;
        }
    }
    let conns = visible_connections(&s, &u);
    let channels: u64 = conns.iter().map(|c| load(&c.channels)).sum();
    let rates = s.rates.overview();
    let totals = crate::rates::totals(&s.broker);
    let node = node_name();
    let mut listeners = Vec::new();
    if let Some(a) = s.amqp_addr {
        listeners.push(json!({"node": node, "protocol": "amqp", "ip_address": a.ip().to_string(), "port": a.port()}));
    }
    if let Some(a) = s.http_addr {
        listeners.push(json!({"node": node, "protocol": "http", "ip_address": a.ip().to_string(), "port": a.port()}));
    }
    let version = env!("CARGO_PKG_VERSION");
    let exchange_types = exchange_types();
    let contexts: Vec<Value> = s
        .http_addr
        .map(|a| vec![json!({"node": node, "description": "RabbitMQ Management", "path": "/", "port": a.port().to_string()})])
        .unwrap_or_default();
    ok(json!({
        // The management API (and RabbitMQ) version Warren follows: tools gate on these.
        "management_version": warren_core::RABBITMQ_VERSION,
        "rates_mode": "basic",
        "product_name": "Warren",
        "product_version": version,
        "rabbitmq_version": warren_core::RABBITMQ_VERSION,
        "release_series_support_status": "supported",
        "erlang_version": "n/a",
        "erlang_full_version": "n/a (Warren is written in Rust)",
        "cluster_name": node::cluster_name_of(&s),
        "node": node,
        "disable_stats": false,
        "enable_queue_totals": true,
        "is_op_policy_updating_enabled": false,
        "exchange_types": exchange_types,
        "message_stats": message_stats(&totals, &rates),
        "churn_rates": churn_json(&s),
        "sample_retention_policies": {"global": [600, 3600, 28800, 86400], "basic": [600, 3600], "detailed": [600]},
        "queue_totals": {
            "messages": ready + unacked, "messages_details": details(rates.gauges[0]),
            "messages_ready": ready, "messages_ready_details": details(rates.gauges[1]),
            "messages_unacknowledged": unacked, "messages_unacknowledged_details": details(rates.gauges[2]),
        },
        "object_totals": {
            "channels": channels,
            "connections": conns.len(),
            "consumers": consumers,
            "exchanges": exchanges,
            "queues": queues,
        },
        "statistics_db_event_queue": 0,
        "listeners": listeners,
        "contexts": contexts,
    }))
}

async fn overview_history(State(s): S, User(_): User) -> ApiResult {
    ok(serde_json::to_value(s.rates.history()).unwrap_or_default())
}

/// Resident memory of this process, from /proc (0 where there is none).
pub(crate) fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn exchange_types() -> Vec<Value> {
    ["direct", "fanout", "topic", "headers"]
        .iter()
        .map(|t| json!({"name": t, "description": format!("AMQP {t} exchange type"), "enabled": true}))
        .collect()
}

/// RabbitMQ's churn counts and their `_details.rate` (overview `churn_rates`, node).
fn churn_json(s: &AppState) -> Map<String, Value> {
    let counts = crate::rates::churn(&s.broker);
    let rates = s.rates.churn();
    let mut m = Map::new();
    for (i, name) in crate::rates::CHURN.iter().enumerate() {
        m.insert((*name).into(), json!(counts[i]));
        m.insert(format!("{name}_details"), details(rates[i]));
    }
    m
}

fn node_json(s: &AppState) -> Value {
    let alarm = s.broker.current_alarm();
    let gauges = crate::rates::node_gauges(&s.broker, s.node.disk_free.as_ref());
    let [mem_used, fds, sockets_used, proc_used, disk_free] = gauges;
    let fd_total = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|x| x.starts_with("Max open files"))?
                .split_whitespace()
                .nth(3)?
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(0);
    let node = node_name();
    let http_port = s.http_addr.map(|a| a.port().to_string());
    let mut v = json!({
        "name": node,
        "type": "disc",
        "running": true,
        "being_drained": false,
        "mem_used": mem_used,
        "mem_limit": s.node.mem_limit,
        "mem_calculation_strategy": "rss",
        "disk_free": disk_free,
        "disk_free_limit": s.node.disk_free_limit,
        "fd_total": fd_total,
        "sockets_total": fd_total,
        "proc_total": crate::rates::PROC_TOTAL,
        "run_queue": crate::rates::run_queue(),
        "net_ticktime": 0,
        "auth_mechanisms": [
            {"name": "PLAIN", "description": "SASL PLAIN authentication mechanism", "enabled": true},
            {"name": "AMQPLAIN", "description": "QPid AMQPLAIN mechanism", "enabled": true},
        ],
        "exchange_types": exchange_types(),
        "contexts": http_port.map(|p| vec![json!({"description": "RabbitMQ Management", "path": "/", "port": p})]).unwrap_or_default(),
        "mem_alarm": alarm.as_deref().is_some_and(|a| a.contains("memory")),
        "disk_free_alarm": alarm.as_deref().is_some_and(|a| a.contains("disk")),
        "fd_used": fds,
        "sockets_used": sockets_used,
        "proc_used": proc_used,
        "uptime": s.started_at.elapsed().as_millis() as u64,
        "processors": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "os_pid": std::process::id().to_string(),
        "rates_mode": "basic",
        "enabled_plugins": ["rabbitmq_management", "rabbitmq_prometheus"],
        "applications": [],
        "partitions": [],
    });
    let rates = s.rates.node();
    if let Some(o) = v.as_object_mut() {
        for (i, name) in crate::rates::NODE_GAUGES.iter().enumerate() {
            o.insert(format!("{name}_details"), details(rates[i]));
        }
        // As RabbitMQ's node object: the churn counts too.
        o.extend(churn_json(s));
    }
    v
}

async fn nodes(State(s): S, User(u): User) -> ApiResult {
    u.require(Tag::Monitoring)?;
    ok(json!([node_json(&s)]))
}

async fn node(State(s): S, User(u): User, Path(name): Path<String>) -> ApiResult {
    u.require(Tag::Monitoring)?;
    if name != node_name() {
        return Err(ApiError::not_found());
    }
    ok(node_json(&s))
}

async fn extensions(User(_): User) -> ApiResult {
    ok(json!([]))
}

async fn whoami(User(u): User) -> ApiResult {
    ok(json!({"name": u.username, "tags": u.tags}))
}

/// A 401 without `WWW-Authenticate`: the credentials were in the body, not basic auth.
fn no_challenge(e: ApiError) -> ApiError {
    ApiError {
        challenge: false,
        ..e
    }
}

#[derive(Deserialize)]
struct TokenRequest {
    username: String,
    password: String,
}

/// POST /api/auth/token: a bearer token (JWT) for a user's name and password, from the
/// built-in issuer: `{access_token, token_type: "bearer", expires_in}`.
async fn issue_token(
    State(s): S,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    body: Bytes,
) -> ApiResult {
    let req: TokenRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("expected {{username, password}}: {e}")))?;
    let Some(issuer) = &s.token_issuer else {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_implemented",
            "this broker has no token issuer configured ([jwt.issuer])",
        ));
    };
    let who = s
        .broker
        .auth()
        .authenticate(&req.username, &req.password, peer.ip())
        .map_err(|e| {
            crate::auth::log_refusal(peer.ip(), &req.username, &e.to_string());
            no_challenge(ApiError::unauthorized("Not_Authorized"))
        })?;
    let t = issuer
        .issue(s.broker.auth(), &who.username)
        .map_err(|e| no_challenge(ApiError::unauthorized(e.to_string())))?;
    ok(serde_json::to_value(t).unwrap_or_default())
}

fn vhost_json(s: &AppState, v: &VHost) -> Value {
    let mut stats = v.retired.snapshot();
    let (mut ready, mut unacked) = (0, 0);
    for q in v.queues() {
        stats.add(&q.counters.snapshot());
        let i = q.info();
        ready += i.messages_ready;
        unacked += i.messages_unacknowledged;
    }
    let rates = s.rates.vhost(&v.name);
    let (mut recv, mut send) = (0, 0);
    for c in s.broker.connections.list() {
        if c.vhost == v.name.as_str() {
            recv += load(&c.recv_oct);
            send += load(&c.send_oct);
        }
    }
    let meta = v.metadata.read().clone();
    json!({
        "recv_oct": recv,
        "recv_oct_details": details(0.0),
        "send_oct": send,
        "send_oct_details": details(0.0),
        "name": v.name.as_str(),
        "description": meta.description,
        "tags": meta.tags,
        "metadata": meta.to_json(),
        "tracing": false,
        "default_queue_type": meta.queue_type(),
        "cluster_state": {node_name(): "running"},
        "messages": ready + unacked,
        "messages_details": details(rates.gauges[0]),
        "messages_ready": ready,
        "messages_ready_details": details(rates.gauges[1]),
        "messages_unacknowledged": unacked,
        "messages_unacknowledged_details": details(rates.gauges[2]),
        "message_stats": message_stats(&stats, &rates),
    })
}

async fn list_vhosts(State(s): S, User(u): User, Query(q): Query<ListQuery>) -> ApiResult {
    let vs = visible_vhosts(&s, &u);
    ok(q.apply(
        vs,
        |v| (String::new(), v.name.to_string()),
        |v| vhost_json(&s, v),
    )?)
}

async fn get_vhost(State(s): S, User(u): User, Path(name): Path<String>) -> ApiResult {
    let v = user_vhost(&s, &u, &name)?;
    ok(vhost_json(&s, &v))
}

/// PUT /api/vhosts/{name}: creates the vhost or, as RabbitMQ, replaces its metadata
/// (`description`, `tags`, `default_queue_type`) with the body's.
async fn put_vhost(State(s): S, User(u): User, Path(name): Path<String>, body: Bytes) -> ApiResult {
    u.require(Tag::Administrator)?;
    short(&name)?;
    let m = parse_body(&body)?;
    body_tags(&m)?;
    let meta = warren_core::VHostMetadata::from_json(&m);
    if let Some(v) = s.broker.vhost(&name) {
        let before = v.metadata.read().clone();
        s.broker.change_durably::<_, ApiError>(
            || {
                *v.metadata.write() = meta;
                Ok(((), true))
            },
            |()| *v.metadata.write() = before,
        )?;
        return no_content();
    }
    let db = s.broker.auth();
    s.broker.change_durably::<_, ApiError>(
        || {
            let before = db.snapshot();
            *s.broker.add_vhost(&name).metadata.write() = meta;
            // As RabbitMQ: the user who creates a vhost gets full permissions in it.
            if db.user(&u.username).is_some() {
                let _ = db.set_permissions(&u.username, &name, ".*", ".*", ".*");
            }
            Ok((before, true))
        },
        |before| {
            s.broker.delete_vhost_unsaved(&name);
            db.restore(before);
        },
    )?;
    created()
}

async fn delete_vhost(State(s): S, User(u): User, Path(name): Path<String>) -> ApiResult {
    u.require(Tag::Administrator)?;
    if !s.broker.delete_vhost(&name)? {
        return Err(ApiError::not_found());
    }
    for c in s.broker.connections.list() {
        if c.vhost == name {
            c.close(AmqpError::new(
                warren_amqp::reply_code::CONNECTION_FORCED,
                format!("vhost '{name}' is deleted"),
            ));
        }
    }
    no_content()
}

async fn list_users(State(s): S, User(u): User, Query(q): Query<ListQuery>) -> ApiResult {
    u.require(Tag::Administrator)?;
    ok(q.apply(
        s.broker.auth().users(),
        |x| (String::new(), x.name.clone()),
        |x| serde_json::to_value(x).unwrap_or_default(),
    )?)
}

async fn get_user(State(s): S, User(u): User, Path(name): Path<String>) -> ApiResult {
    u.require(Tag::Administrator)?;
    let user = s
        .broker
        .auth()
        .user(&name)
        .ok_or_else(ApiError::not_found)?;
    ok(serde_json::to_value(user).unwrap_or_default())
}

fn db_error(e: warren_auth::AuthDbError) -> ApiError {
    match e {
        warren_auth::AuthDbError::NoSuchUser(_) => ApiError::not_found(),
        other => ApiError::bad_request(other.to_string()),
    }
}

/// Tags as a list or RabbitMQ's comma-separated string.
fn body_tags(m: &Map<String, Value>) -> Result<Option<Vec<String>>, ApiError> {
    match m.get("tags") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(t)) => Ok(Some(warren_auth::split_tags(t))),
        Some(Value::Array(a)) => a
            .iter()
            .map(|t| {
                t.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| ApiError::bad_request("tags must be strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(ApiError::bad_request("tags must be a string or a list")),
    }
}

/// The algorithm of a `password_hash` sent without `hashing_algorithm` (as clients that
/// follow the node's configured `password_hashing_module` do): the user's own if the hash has
/// its length, else the one whose length it has (SHA-256 first, RabbitMQ's default).
fn hash_algorithm_of(hash: &str, existing: Option<&warren_auth::UserInfo>) -> String {
    use warren_auth::HashingAlgorithm as H;
    let fits = |a: H| warren_auth::PasswordHash::from_base64(a, hash).is_ok();
    let own = existing.and_then(|u| H::parse(&u.hashing_algorithm));
    own.filter(|a| fits(*a))
        .or_else(|| {
            [H::Sha256, H::Sha512, H::Md5]
                .into_iter()
                .find(|a| fits(*a))
        })
        .unwrap_or_default()
        .as_str()
        .to_string()
}

/// PUT /api/users/{name}: `password` or `password_hash` (+ `hashing_algorithm`), `tags`.
async fn put_user(State(s): S, User(u): User, Path(name): Path<String>, body: Bytes) -> ApiResult {
    u.require(Tag::Administrator)?;
    let m = parse_body(&body)?;
    let db = s.broker.auth();
    let existed = db.user(&name).is_some();
    let tags = body_tags(&m)?;
    auth_change(&s, |db| {
        if let Some(hash) = body_str(&m, "password_hash") {
            let info = warren_auth::UserInfo {
                name: name.clone(),
                password_hash: hash.to_string(),
                hashing_algorithm: match body_str(&m, "hashing_algorithm") {
                    Some(alg) => alg.to_string(),
                    None => hash_algorithm_of(hash, db.user(&name).as_ref()),
                },
                tags: tags.unwrap_or_default(),
                // As RabbitMQ: a new hash keeps the user's limits.
                limits: db.user(&name).map(|x| x.limits).unwrap_or_default(),
            };
            db.put_user(&info).map_err(db_error)
        } else if existed {
            if let Some(p) = body_str(&m, "password") {
                db.set_password(&name, Some(p)).map_err(db_error)?;
            }
            if let Some(t) = tags {
                db.set_tags(&name, &t).map_err(db_error)?;
            }
            Ok(())
        } else {
            let p = body_str(&m, "password")
                .ok_or_else(|| ApiError::bad_request("key_missing: password or password_hash"))?;
            db.add_user(&name, p, &tags.unwrap_or_default())
                .map_err(db_error)
        }
    })?;
    if existed {
        no_content()
    } else {
        created()
    }
}

async fn delete_user(State(s): S, User(u): User, Path(name): Path<String>) -> ApiResult {
    u.require(Tag::Administrator)?;
    auth_change(&s, |db| db.delete_user(&name).map_err(db_error))?;
    no_content()
}

fn permissions_where(s: &AppState, f: impl Fn(&warren_auth::PermissionInfo) -> bool) -> ApiResult {
    let mut v: Vec<_> = s
        .broker
        .auth()
        .permissions()
        .into_iter()
        .filter(|p| f(p))
        .collect();
    v.sort_by(|a, b| (&a.user, &a.vhost).cmp(&(&b.user, &b.vhost)));
    ok(serde_json::to_value(v).unwrap_or_default())
}

async fn list_permissions(State(s): S, User(u): User) -> ApiResult {
    u.require(Tag::Administrator)?;
    permissions_where(&s, |_| true)
}

async fn user_permissions(State(s): S, User(u): User, Path(user): Path<String>) -> ApiResult {
    u.require(Tag::Administrator)?;
    s.broker
        .auth()
        .user(&user)
        .ok_or_else(ApiError::not_found)?;
    permissions_where(&s, |p| p.user == user)
}

async fn vhost_permissions(State(s): S, User(u): User, Path(vh): Path<String>) -> ApiResult {
    u.require(Tag::Administrator)?;
    vhost(&s, &vh)?;
    permissions_where(&s, |p| p.vhost == vh)
}

async fn get_permission(
    State(s): S,
    User(u): User,
    Path((vh, user)): Path<(String, String)>,
) -> ApiResult {
    u.require(Tag::Administrator)?;
    s.broker
        .auth()
        .permissions()
        .into_iter()
        .find(|p| p.vhost == vh && p.user == user)
        .map_or_else(
            || Err(ApiError::not_found()),
            |p| ok(serde_json::to_value(p).unwrap_or_default()),
        )
}

/// PUT /api/permissions/{vhost}/{user}: `configure`, `write`, `read` regexes.
async fn put_permission(
    State(s): S,
    User(u): User,
    Path((vh, user)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    u.require(Tag::Administrator)?;
    vhost(&s, &vh)?;
    let m = parse_body(&body)?;
    let db = s.broker.auth();
    db.user(&user)
        .ok_or_else(|| ApiError::bad_request(format!("no such user '{user}'")))?;
    let existed = db
        .permissions()
        .iter()
        .any(|p| p.vhost == vh && p.user == user);
    let get =
        |k: &str| body_str(&m, k).ok_or_else(|| ApiError::bad_request(format!("key_missing: {k}")));
    let (configure, write, read) = (get("configure")?, get("write")?, get("read")?);
    auth_change(&s, |db| {
        db.set_permissions(&user, &vh, configure, write, read)
            .map_err(db_error)
    })?;
    if existed {
        no_content()
    } else {
        created()
    }
}

async fn delete_permission(
    State(s): S,
    User(u): User,
    Path((vh, user)): Path<(String, String)>,
) -> ApiResult {
    u.require(Tag::Administrator)?;
    auth_change(&s, |db| match db.clear_permissions(&user, &vh) {
        true => Ok(()),
        false => Err(ApiError::not_found()),
    })?;
    no_content()
}

async fn list_topic_permissions(State(s): S, User(u): User) -> ApiResult {
    u.require(Tag::Administrator)?;
    ok(serde_json::to_value(s.broker.auth().topic_permissions()).unwrap_or_default())
}

/// PUT /api/topic-permissions/{vhost}/{user}: `exchange`, `write`, `read`.
async fn put_topic_permission(
    State(s): S,
    User(u): User,
    Path((vh, user)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    u.require(Tag::Administrator)?;
    vhost(&s, &vh)?;
    let m = parse_body(&body)?;
    let get =
        |k: &str| body_str(&m, k).ok_or_else(|| ApiError::bad_request(format!("key_missing: {k}")));
    let (exchange, write, read) = (get("exchange")?, get("write")?, get("read")?);
    auth_change(&s, |db| {
        db.set_topic_permissions(&user, &vh, exchange, write, read)
            .map_err(db_error)
    })?;
    created()
}

async fn delete_topic_permission(
    State(s): S,
    User(u): User,
    Path((vh, user)): Path<(String, String)>,
) -> ApiResult {
    u.require(Tag::Administrator)?;
    auth_change(&s, |db| {
        match db.clear_topic_permissions(&user, &vh, None) {
            true => Ok(()),
            false => Err(ApiError::not_found()),
        }
    })?;
    no_content()
}

// ---------------------------------------------------------------------------------------------
// exchanges

fn list_exchanges_of(s: &AppState, vs: Vec<Arc<VHost>>, q: &ListQuery) -> ApiResult {
    let items: Vec<(Arc<VHost>, Arc<Exchange>)> = vs
        .into_iter()
        .flat_map(|v| v.exchanges().into_iter().map(move |x| (v.clone(), x)))
        .collect();
    ok(q.apply(
        items,
        |(v, x)| (v.name.to_string(), x.name.to_string()),
        |(v, x)| exchange_json(s, v, x),
    )?)
}

async fn list_exchanges(State(s): S, User(u): User, Query(q): Query<ListQuery>) -> ApiResult {
    let vs = visible_vhosts(&s, &u);
    list_exchanges_of(&s, vs, &q)
}

async fn list_exchanges_vhost(
    State(s): S,
    User(u): User,
    Path(vh): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult {
    let v = user_vhost(&s, &u, &vh)?;
    list_exchanges_of(&s, vec![v], &q)
}

async fn get_exchange(
    State(s): S,
    User(u): User,
    Path((vh, name)): Path<(String, String)>,
) -> ApiResult {
    let v = user_vhost(&s, &u, &vh)?;
    let x = v
        .exchange(exchange_name(&name))
        .map_err(|_| ApiError::not_found())?;
    ok(exchange_json(&s, &v, &x))
}

async fn put_exchange(
    State(s): S,
    User(u): User,
    Path((vh, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let v = user_vhost(&s, &u, &vh)?;
    let m = parse_body(&body)?;
    let kind = body_str(&m, "type")
        .ok_or_else(|| ApiError::bad_request("key_missing: type"))?
        .to_string();
    if ExchangeKind::parse(&kind).is_none() {
        return Err(ApiError::bad_request(format!(
            "invalid type '{kind}' for exchange '{name}' in vhost '{vh}'"
        )));
    }
    u.check(
        &vh,
        Access::Configure,
        ResourceKind::Exchange,
        exchange_name(&name),
    )?;
    let existed = v.exchange(exchange_name(&name)).is_ok();
    let decl = ExchangeDeclare {
        exchange: short(exchange_name(&name))?,
        kind: short(&kind)?,
        passive: false,
        durable: body_bool(&m, "durable", true)?,
        auto_delete: body_bool(&m, "auto_delete", false)?,
        internal: body_bool(&m, "internal", false)?,
        no_wait: false,
        arguments: body_args(&m)?,
    };
    if decl.durable {
        // Saved before the reply; not made if it cannot be saved (500).
        s.broker.change_durably::<_, ApiError>(
            || {
                let existed = v.exchange(&decl.exchange).is_ok();
                v.declare_exchange(&decl)?;
                Ok((!existed, !existed))
            },
            |created| {
                if *created {
                    let _ = v.delete_exchange(&decl.exchange, false);
                }
            },
        )?;
    } else {
        v.declare_exchange(&decl)?;
    }
    if existed {
        no_content()
    } else {
        created()
    }
}

#[derive(Deserialize, Default)]
struct DeleteQuery {
    #[serde(rename = "if-unused")]
    if_unused: Option<String>,
    #[serde(rename = "if-empty")]
    if_empty: Option<String>,
}

async fn delete_exchange(
    State(s): S,
    User(u): User,
    Path((vh, name)): Path<(String, String)>,
    Query(dq): Query<DeleteQuery>,
) -> ApiResult {
    let v = user_vhost(&s, &u, &vh)?;
    let name = exchange_name(&name);
    let x = v.exchange(name).map_err(|_| ApiError::not_found())?;
    u.check(&vh, Access::Configure, ResourceKind::Exchange, name)?;
    let delete = || v.delete_exchange(name, dq.if_unused.as_deref() == Some("true"));
    // Only durable objects are in the definitions file: no rewrite for a transient one.
    if x.durable {
        let gone = warren_core::Gone::Exchange {
            vhost: &v.name,
            name,
        };
        s.broker.remove_durably(gone, delete)?;
    } else {
        delete()?;
    }
    no_content()
}

async fn exchange_bindings_source(
    State(s): S,
    User(u): User,
    Path((vh, name)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
) -> ApiResult {
    let v = user_vhost(&s, &u, &vh)?;
    let name = exchange_name(&name);
    v.exchange(name).map_err(|_| ApiError::not_found())?;
    let rows: Vec<BindingRow> = vhost_bindings(&v)
        .into_iter()
        .filter(|b| b.source == name)
        .collect();
    bindings_response(rows, &q)
}

async fn exchange_bindings_destination(
    State(s): S,
    User(u): User,
    Path((vh, name)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
) -> ApiResult {
    let v = user_vhost(&s, &u, &vh)?;
    let name = exchange_name(&name);
    v.exchange(name).map_err(|_| ApiError::not_found())?;
    let rows: Vec<BindingRow> = vhost_bindings(&v)
        .into_iter()
        .filter(|b| b.destination_type == "exchange" && b.destination == name)
        .collect();
    bindings_response(rows, &q)
}

fn bindings_response(rows: Vec<BindingRow>, q: &ListQuery) -> ApiResult {
    // Bindings keep their natural order (default bindings first); a `sort` still applies.
    if q.page.is_none() && q.sort.is_none() && q.name.is_none() {
        let v: Vec<Value> = rows.iter().map(BindingRow::json).collect();
        let v: Vec<Value> = v.into_iter().map(|x| q.project_one(x)).collect();
        return ok(Value::Array(v));
    }
    ok(q.apply(
        rows,
        |b| (b.vhost.clone(), b.source.clone()),
        BindingRow::json,
    )?)
}

/// Builds basic properties from the management API's JSON `properties`.
fn properties_from_json(p: &Map<String, Value>) -> Result<BasicProperties, ApiError> {
    let s = |k: &str| -> Result<Option<ShortStr>, ApiError> {
        match p.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(v)) => short(v).map(Some),
            Some(Value::Number(n)) => short(&n.to_string()).map(Some),
            Some(_) => Err(ApiError::bad_request(format!(
                "property {k} must be a string"
            ))),
        }
    };
    let n = |k: &str| -> Result<Option<u64>, ApiError> {
        match p.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(v)) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| ApiError::bad_request(format!("property {k} must be a number"))),
            Some(Value::String(v)) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("property {k} must be a number"))),
            Some(_) => Err(ApiError::bad_request(format!(
                "property {k} must be a number"
            ))),
        }
    };
    let headers = match p.get("headers") {
        None | Some(Value::Null) => None,
        Some(Value::Object(o)) => Some(json_to_table(o)),
        Some(_) => return Err(ApiError::bad_request("headers must be an object")),
    };
    let small = |v: Option<u64>, k: &str| -> Result<Option<u8>, ApiError> {
        v.map(|x| u8::try_from(x).map_err(|_| ApiError::bad_request(format!("{k} out of range"))))
            .transpose()
    };
    Ok(BasicProperties {
        content_type: s("content_type")?,
        content_encoding: s("content_encoding")?,
        headers,
        delivery_mode: small(n("delivery_mode")?, "delivery_mode")?,
        priority: small(n("priority")?, "priority")?,
        correlation_id: s("correlation_id")?,
        reply_to: s("reply_to")?,
        expiration: s("expiration")?,
        message_id: s("message_id")?,
        timestamp: n("timestamp")?,
        kind: s("type")?,
        user_id: s("user_id")?,
        app_id: s("app_id")?,
        cluster_id: s("cluster_id")?,
    })
}

fn properties_to_json(p: &BasicProperties) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    };
    let st = |v: &Option<ShortStr>| v.as_ref().map(|s| Value::String(s.to_string()));
    put("content_type", st(&p.content_type));
    put("content_encoding", st(&p.content_encoding));
    put(
        "headers",
        p.headers.as_ref().map(|h| Value::Object(table_to_json(h))),
    );
    put("delivery_mode", p.delivery_mode.map(Value::from));
    put("priority", p.priority.map(Value::from));
    put("correlation_id", st(&p.correlation_id));
    put("reply_to", st(&p.reply_to));
    put("expiration", st(&p.expiration));
    put("message_id", st(&p.message_id));
    put("timestamp", p.timestamp.map(Value::from));
    put("type", st(&p.kind));
    put("user_id", st(&p.user_id));
    put("app_id", st(&p.app_id));
    put("cluster_id", st(&p.cluster_id));
    Value::Object(m)
}

async fn publish(
    State(s): S,
    User(u): User,
    Path((vh, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let v = user_vhost(&s, &u, &vh)?;
    let x = v
        .exchange(exchange_name(&name))
        .map_err(|_| ApiError::not_found())?;
    u.check(&vh, Access::Write, ResourceKind::Exchange, &x.name)?;
    let m = parse_body(&body)?;
    let routing_key = body_str(&m, "routing_key")
        .ok_or_else(|| ApiError::bad_request("key_missing: routing_key"))?;
    let payload =
        body_str(&m, "payload").ok_or_else(|| ApiError::bad_request("key_missing: payload"))?;
    let payload = match body_str(&m, "payload_encoding").unwrap_or("string") {
        "string" => bytes::Bytes::copy_from_slice(payload.as_bytes()),
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(payload)
            .map(bytes::Bytes::from)
            .map_err(|_| ApiError::bad_request("payload is not valid base64"))?,
        other => {
            return Err(ApiError::bad_request(format!(
                "payload_encoding must be 'string' or 'base64', not '{other}'"
            )))
        }
    };
    if payload.len() as u64 > s.broker.limits.max_message_size {
        return Err(ApiError::bad_request(format!(
            "message size {} is larger than the configured max size {}",
            payload.len(),
            s.broker.limits.max_message_size
        )));
    }
    let props = match m.get("properties") {
        None | Some(Value::Null) => BasicProperties::default(),
        Some(Value::Object(p)) => properties_from_json(p)?,
        Some(Value::Array(a)) if a.is_empty() => BasicProperties::default(),
        Some(_) => return Err(ApiError::bad_request("properties must be an object")),
    };
    // As basic.publish over AMQP: the user_id property must be the user's (RabbitMQ's
    // management plugin answers the channel's 406 with a 400 "406 PRECONDITION_FAILED - ..."),
    // and a topic exchange checks the topic permission of the routing key.
    if let Some(claimed) = &props.user_id {
        u.identity.check_user_id(claimed.as_str()).map_err(|d| {
            let e = warren_core::AmqpError::precondition_failed(d);
            ApiError::bad_request(format!("{} {}", e.code, e.text))
        })?;
    }
    if x.kind == ExchangeKind::Topic {
        u.check_topic(&vh, Access::Write, &x.name, routing_key)?;
    }
    let route = Route::from_short(&x.name, &short(routing_key)?);
    let msg = Message::new(route, props.encode(), payload);
    let n = v.publish_internal(&x, msg, |_| false);
    x.count_publish(n);
    s.broker.connections.count_external_publish();
    ok(json!({"routed": n > 0}))
}

// ---------------------------------------------------------------------------------------------
// queues

fn list_queues_of(s: &AppState, vs: Vec<Arc<VHost>>, q: &ListQuery) -> ApiResult {
    let items: Vec<Arc<Queue>> = vs.iter().flat_map(|v| v.queues()).collect();
    ok(q.apply_keyed(
        items,
        |x| (x.vhost.to_string(), x.name.to_string()),
        queue_sort_key,
        |x| queue_json(s, x),
    )?)
}

/// The sort keys a queue listing can order by without building each queue's JSON (the
/// dashboard's busiest queues, `sort=messages`): the values [`queue_json`] gives them.
fn queue_sort_key(q: &Arc<Queue>, key: &str) -> Option<Value> {
    let counts = || {
        let i = q.info();
        (
            i.messages_ready,
            i.messages_unacknowledged,
            i.consumers.len(),
        )
    };
    Some(match key {
        "name" => Value::from(q.name.as_str()),
        "vhost" => Value::from(q.vhost.as_str()),
        "durable" => Value::from(q.durable),
        "auto_delete" => Value::from(q.auto_delete),
        "messages" => {
            let (r, u, _) = counts();
            Value::from(r + u)
        }
        "messages_ready" => Value::from(counts().0),
        "messages_unacknowledged" => Value::from(counts().1),
        "consumers" => Value::from(counts().2),
        _ => return None,
    })
}

async fn list_queues(State(s): S, User(u): User, Query(q): Query<ListQuery>) -> ApiResult {
    let vs = visible_vhosts(&s, &u);
    list_queues_of(&s, vs, &q)
}

async fn list_queues_vhost(
    State(s): S,
    User(u): User,
    Path(vh): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult {
    let v = user_vhost(&s, &u, &vh)?;
    list_queues_of(&s, vec![v], &q)
}

async fn get_queue(
    State(s): S,
    User(u): User,
    Path((vh, name)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
) -> ApiResult {
    let v = user_vhost(&s, &u, &vh)?;
    let queue = find_queue(&v, &name)?;
    ok(q.project_one(queue_json(&s, &queue)))
}

async fn put_queue(
    State(s): S,
    User(u): User,
    Path((vh, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let v = user_vhost(&s, &u, &vh)?;
    let m = parse_body(&body)?;
    if name.is_empty() {
        return Err(ApiError::bad_request("queue name must not be empty"));
    }
    u.check(&vh, Access::Configure, ResourceKind::Queue, &name)?;
    let existed = v.queue(&name, 0).is_ok();
    let decl = QueueDeclare {
        queue: short(&name)?,
        passive: false,
        durable: body_bool(&m, "durable", true)?,
        exclusive: false,
        auto_delete: body_bool(&m, "auto_delete", false)?,
        no_wait: false,
        arguments: body_args(&m)?,
    };
    if decl.durable {
        // Saved before the reply; not made if it cannot be saved (500).
        s.broker.change_durably::<_, ApiError>(
            || {
                let d = v.declare_queue(0, &decl)?;
                let created = d.created;
                Ok((d, created))
            },
            |d| {
                if d.created {
                    let _ = v.remove_queue(&d.queue, false, false);
                }
            },
        )?;
    } else {
        v.declare_queue(0, &decl)?;
    }
    if existed {
        no_content()
    } else {
        created()
    }
}

async fn delete_queue(
    State(s): S,
    User(u): User,
    Path((vh, name)): Path<(String, String)>,
    Query(dq): Query<DeleteQuery>,
) -> ApiResult {
    let v = user_vhost(&s, &u, &vh)?;
    let q = find_queue(&v, &name)?;
    u.check(&vh, Access::Configure, ResourceKind::Queue, &name)?;
    let delete = || {
        v.remove_queue(
            &q,
            dq.if_unused.as_deref() == Some("true"),
            dq.if_empty.as_deref() == Some("true"),
        )
    };
    if q.durable && q.exclusive_owner.is_none() {
        let gone = warren_core::Gone::Queue {
            vhost: &v.name,
            name: &q.name,
        };
        s.broker.remove_durably(gone, delete)?;
    } else {
        delete()?;
    }
    no_content()
}

async fn purge_queue(
    State(s): S,
    User(u): User,
    Path((vh, name)): Path<(String, String)>,
) -> ApiResult {
    let v = user_vhost(&s, &u, &vh)?;
    let q = find_queue(&v, &name)?;
    u.check(&vh, Access::Read, ResourceKind::Queue, &name)?;
    q.purge();
    no_content()
}

async fn queue_bindings(
    State(s): S,
    User(u): User,
    Path((vh, name)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
) -> ApiResult {
    let v = user_vhost(&s, &u, &vh)?;
    find_queue(&v, &name)?;
    let rows: Vec<BindingRow> = vhost_bindings(&v)
        .into_iter()
        .filter(|b| b.destination_type == "queue" && b.destination == name)
        .collect();
    bindings_response(rows, &q)
}

async fn get_messages(
    State(s): S,
    User(u): User,
    Path((vh, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let v = user_vhost(&s, &u, &vh)?;
    let queue = find_queue(&v, &name)?;
    u.check(&vh, Access::Read, ResourceKind::Queue, &name)?;
    let m = parse_body(&body)?;
    let count = m
        .get("count")
        .and_then(|c| c.as_u64().or_else(|| c.as_str()?.parse().ok()))
        .ok_or_else(|| ApiError::bad_request("key_missing: count"))?;
    // Older clients send `requeue` instead of `ackmode`.
    let ackmode = match (body_str(&m, "ackmode"), m.get("requeue")) {
        (Some(a), _) => a.to_string(),
        (None, Some(r)) if r == &Value::Bool(false) || r == "false" => {
            "ack_requeue_false".to_string()
        }
        (None, Some(_)) => "ack_requeue_true".to_string(),
        (None, None) => return Err(ApiError::bad_request("key_missing: ackmode")),
    };
    let (requeue, reject) = match ackmode.as_str() {
        "ack_requeue_true" => (true, false),
        "ack_requeue_false" => (false, false),
        "reject_requeue_true" => (true, true),
        "reject_requeue_false" => (false, true),
        other => return Err(ApiError::bad_request(format!("unknown ackmode '{other}'"))),
    };
    let _ = reject;
    let encoding = body_str(&m, "encoding").unwrap_or("auto").to_string();
    if encoding != "auto" && encoding != "base64" {
        return Err(ApiError::bad_request(format!(
            "encoding must be 'auto' or 'base64', not '{encoding}'"
        )));
    }
    let truncate = m
        .get("truncate")
        .and_then(|t| t.as_u64().or_else(|| t.as_str()?.parse().ok()))
        .map(|t| t as usize);
    let mut taken = Vec::new();
    let mut out = Vec::new();
    for _ in 0..count.min(10_000) {
        let Some(got) = queue.get(false) else { break };
        let body = &got.message.body;
        let cut = truncate.map_or(body.len(), |t| t.min(body.len()));
        let shown = &body[..cut];
        let (payload, enc) = match (encoding.as_str(), std::str::from_utf8(shown)) {
            ("auto", Ok(text)) => (text.to_string(), "string"),
            _ => (
                base64::engine::general_purpose::STANDARD.encode(shown),
                "base64",
            ),
        };
        let props = got.message.properties.decode().unwrap_or_default();
        out.push(json!({
            "payload_bytes": body.len(),
            "redelivered": got.redelivered,
            "exchange": got.message.exchange(),
            "routing_key": got.message.routing_key(),
            "message_count": got.remaining,
            "properties": properties_to_json(&props),
            "payload": payload,
            "payload_encoding": enc,
        }));
        taken.push(warren_core::Returned {
            message: got.message,
            stored: got.stored,
            order: got.order,
            expires_at: got.expires_at,
        });
    }
    // Settled only after all were taken, so a requeued message is not fetched twice.
    if requeue {
        queue.requeue(taken);
    } else if reject {
        queue.reject(taken);
    } else {
        queue.settle_many(&taken);
    }
    ok(Value::Array(out))
}

// ---------------------------------------------------------------------------------------------
// bindings

async fn list_bindings(State(s): S, User(u): User, Query(q): Query<ListQuery>) -> ApiResult {
    let mut vs = visible_vhosts(&s, &u);
    vs.sort_by(|a, b| a.name.cmp(&b.name));
    let rows: Vec<BindingRow> = vs.iter().flat_map(|v| vhost_bindings(v)).collect();
    bindings_response(rows, &q)
}

async fn list_bindings_vhost(
    State(s): S,
    User(u): User,
    Path(vh): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult {
    let v = user_vhost(&s, &u, &vh)?;
    bindings_response(vhost_bindings(&v), &q)
}

/// Bindings from exchange `source` to the queue (`kind` "q") or exchange ("e") `dest`.
fn between(
    s: &AppState,
    u: &Principal,
    vh: &str,
    source: &str,
    kind: &str,
    dest: &str,
) -> Result<(Arc<VHost>, Vec<BindingRow>), ApiError> {
    let v = user_vhost(s, u, vh)?;
    let dtype = match kind {
        "q" => {
            find_queue(&v, dest)?;
            "queue"
        }
        "e" => {
            v.exchange(exchange_name(dest))
                .map_err(|_| ApiError::not_found())?;
            "exchange"
        }
        _ => return Err(ApiError::not_found()),
    };
    let source = exchange_name(source);
    v.exchange(source).map_err(|_| ApiError::not_found())?;
    let rows = vhost_bindings(&v)
        .into_iter()
        .filter(|b| b.source == source && b.destination_type == dtype && b.destination == dest)
        .collect();
    Ok((v, rows))
}

async fn bindings_between(
    State(s): S,
    User(u): User,
    Path((vh, source, kind, dest)): Path<(String, String, String, String)>,
) -> ApiResult {
    let (_, rows) = between(&s, &u, &vh, &source, &kind, &dest)?;
    ok(Value::Array(rows.iter().map(BindingRow::json).collect()))
}

/// Is a binding between these in the definitions file (both ends durable)?
fn durable_binding(v: &VHost, source: &str, kind: &str, dest: &str) -> bool {
    let source_durable = v.exchange(source).is_ok_and(|x| x.durable);
    let dest_durable = if kind == "q" {
        find_queue(v, dest).is_ok_and(|q| q.durable && q.exclusive_owner.is_none())
    } else {
        v.exchange(exchange_name(dest)).is_ok_and(|x| x.durable)
    };
    source_durable && dest_durable
}

/// Binding needs write on the destination and read on the source (RabbitMQ).
/// As queue.bind/unbind and exchange.bind/unbind over AMQP (RabbitMQ's `binding_action`):
/// write on the destination, read on the source, and for a topic source the topic read
/// permission of the routing key.
fn check_bind(
    u: &Principal,
    v: &VHost,
    source: &str,
    kind: &str,
    dest: &str,
    routing_key: &str,
) -> Result<(), ApiError> {
    let vh = v.name.as_str();
    let dkind = if kind == "q" {
        ResourceKind::Queue
    } else {
        ResourceKind::Exchange
    };
    u.check(vh, Access::Write, dkind, exchange_name(dest))?;
    let source = exchange_name(source);
    u.check(vh, Access::Read, ResourceKind::Exchange, source)?;
    if let Ok(x) = v.exchange(source) {
        if x.kind == ExchangeKind::Topic {
            u.check_topic(vh, Access::Read, &x.name, routing_key)?;
        }
    }
    Ok(())
}

async fn create_binding(
    State(s): S,
    User(u): User,
    Path((vh, source, kind, dest)): Path<(String, String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let (v, _) = between(&s, &u, &vh, &source, &kind, &dest)?;
    let m = parse_body(&body)?;
    let key = short(body_str(&m, "routing_key").unwrap_or(""))?;
    let args = body_args(&m)?;
    check_bind(&u, &v, &source, &kind, &dest, &key)?;
    let source = exchange_name(&source);
    let destination = if kind == "q" {
        Destination::Queue(find_queue(&v, &dest)?)
    } else {
        Destination::Exchange(short(&dest)?)
    };
    let bind = || -> Result<bool, ApiError> {
        Ok(match &destination {
            Destination::Queue(q) => v.bind_queue(q, source, &key, &args)?,
            Destination::Exchange(d) => v.bind_exchange(d, &short(source)?, &key, &args)?,
        })
    };
    if durable_binding(&v, source, &kind, &dest) {
        // Saved before the reply; not made if it cannot be saved (500).
        s.broker.change_durably::<_, ApiError>(
            || bind().map(|new| (new, new)),
            |new| {
                if *new {
                    v.undo_bind(source, destination.clone(), &key, &args);
                }
            },
        )?;
    } else {
        bind()?;
    }
    let loc = format!(
        "/api/bindings/{}/e/{}/{kind}/{}/{}",
        pct(&vh),
        pct(source),
        pct(&dest),
        properties_key(&key, &args)
    );
    Ok((StatusCode::CREATED, [(header::LOCATION, loc)]).into_response())
}

/// Percent-encodes a path segment.
fn pct(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn get_binding(
    State(s): S,
    User(u): User,
    Path((vh, source, kind, dest, props)): Path<(String, String, String, String, String)>,
) -> ApiResult {
    let (_, rows) = between(&s, &u, &vh, &source, &kind, &dest)?;
    rows.iter()
        .find(|b| properties_key(&b.routing_key, &b.arguments) == props)
        .map_or_else(|| Err(ApiError::not_found()), |b| ok(b.json()))
}

async fn delete_binding(
    State(s): S,
    User(u): User,
    Path((vh, source, kind, dest, props)): Path<(String, String, String, String, String)>,
) -> ApiResult {
    let (v, rows) = between(&s, &u, &vh, &source, &kind, &dest)?;
    let b = rows
        .iter()
        .find(|b| properties_key(&b.routing_key, &b.arguments) == props)
        .ok_or_else(ApiError::not_found)?;
    check_bind(&u, &v, &source, &kind, &dest, &b.routing_key)?;
    let key = short(&b.routing_key)?;
    let unbind = || -> Result<(), ApiError> {
        if kind == "q" {
            let q = find_queue(&v, &dest)?;
            v.unbind_queue(&q, &b.source, &key, &b.arguments)?;
        } else {
            v.unbind_exchange(&short(&dest)?, &short(&b.source)?, &key, &b.arguments)?;
        }
        Ok(())
    };
    if durable_binding(&v, &b.source, &kind, &dest) {
        let dest_type = if kind == "q" { "queue" } else { "exchange" };
        let def = warren_core::definitions::BindingDef::new(
            &v.name,
            &b.source,
            dest_type,
            &dest,
            &key,
            &b.arguments,
        );
        s.broker
            .remove_durably(warren_core::Gone::Binding(&def), unbind)?;
    } else {
        unbind()?;
    }
    no_content()
}

// ---------------------------------------------------------------------------------------------
// connections, channels, consumers

fn connections_response(
    s: &AppState,
    conns: Vec<Arc<ConnectionEntry>>,
    q: &ListQuery,
) -> ApiResult {
    ok(q.apply(
        conns,
        |c| (c.vhost.clone(), c.name.clone()),
        |c| connection_json(s, c),
    )?)
}

async fn list_connections(State(s): S, User(u): User, Query(q): Query<ListQuery>) -> ApiResult {
    let conns = visible_connections(&s, &u);
    connections_response(&s, conns, &q)
}

async fn vhost_connections(
    State(s): S,
    User(u): User,
    Path(vh): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult {
    user_vhost(&s, &u, &vh)?;
    let conns = visible_connections(&s, &u)
        .into_iter()
        .filter(|c| c.vhost == vh)
        .collect();
    connections_response(&s, conns, &q)
}

fn visible_connection(
    s: &AppState,
    u: &Principal,
    name: &str,
) -> Result<Arc<ConnectionEntry>, ApiError> {
    let c = s
        .broker
        .connections
        .by_name(name)
        .ok_or_else(ApiError::not_found)?;
    if c.user != u.username && !u.satisfies(Tag::Monitoring) {
        return Err(ApiError::not_found());
    }
    Ok(c)
}

async fn get_connection(State(s): S, User(u): User, Path(name): Path<String>) -> ApiResult {
    let c = visible_connection(&s, &u, &name)?;
    ok(connection_json(&s, &c))
}

/// DELETE /api/connections/{name}: closes it with 320, the reason from `X-Reason` if given.
async fn close_connection(
    State(s): S,
    User(u): User,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let c = visible_connection(&s, &u, &name)?;
    if c.user != u.username && !u.satisfies(Tag::Administrator) {
        return Err(ApiError::forbidden("Not administrator user"));
    }
    let reason = headers
        .get("x-reason")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("Closed via management plugin");
    c.close(AmqpError::new(
        warren_amqp::reply_code::CONNECTION_FORCED,
        reason,
    ));
    no_content()
}

async fn channels_response(
    s: &AppState,
    conns: Vec<Arc<ConnectionEntry>>,
    q: &ListQuery,
) -> ApiResult {
    let all = channels_of(conns).await;
    let rows: Vec<(Arc<ConnectionEntry>, ChannelInfo)> = all
        .into_iter()
        .flat_map(|(c, chans)| chans.into_iter().map(move |ch| (c.clone(), ch)))
        .collect();
    ok(q.apply(
        rows,
        |(c, ch)| (c.vhost.clone(), channel_name(c, ch.number)),
        |(c, ch)| channel_json(s, c, ch),
    )?)
}

async fn list_channels(State(s): S, User(u): User, Query(q): Query<ListQuery>) -> ApiResult {
    let conns = visible_connections(&s, &u);
    channels_response(&s, conns, &q).await
}

async fn vhost_channels(
    State(s): S,
    User(u): User,
    Path(vh): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult {
    user_vhost(&s, &u, &vh)?;
    let conns = visible_connections(&s, &u)
        .into_iter()
        .filter(|c| c.vhost == vh)
        .collect();
    channels_response(&s, conns, &q).await
}

async fn connection_channels(
    State(s): S,
    User(u): User,
    Path(name): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult {
    let c = visible_connection(&s, &u, &name)?;
    channels_response(&s, vec![c], &q).await
}

async fn get_channel(State(s): S, User(u): User, Path(name): Path<String>) -> ApiResult {
    // "<connection name> (<number>)"
    let (conn, num) = name
        .rsplit_once(" (")
        .and_then(|(c, n)| Some((c, n.strip_suffix(')')?.parse::<u16>().ok()?)))
        .ok_or_else(ApiError::not_found)?;
    let c = visible_connection(&s, &u, conn)?;
    let all = channels_of(vec![c]).await;
    let (c, chans) = all.into_iter().next().ok_or_else(ApiError::not_found)?;
    let ch = chans
        .iter()
        .find(|ch| ch.number == num)
        .ok_or_else(ApiError::not_found)?;
    let mut v = channel_json(&s, &c, ch);
    // The consumers of this channel, in every queue of its vhost.
    let mut consumers = Vec::new();
    if let Some(vh) = s.broker.vhost(&c.vhost) {
        for q in vh.queues() {
            for consumer in q.info().consumers {
                if consumer.connection == c.id && consumer.channel == num {
                    consumers.push(consumer_detail(&s, &q, &consumer));
                }
            }
        }
    }
    v["consumer_details"] = Value::Array(consumers);
    // Per-exchange publishes and per-queue deliveries are fine-grained stats, which RabbitMQ
    // fills only in its `detailed` rates mode; in `basic` (its default, and Warren's) both
    // are empty lists.
    v["publishes"] = json!([]);
    v["deliveries"] = json!([]);
    ok(v)
}

fn consumers_of(s: &AppState, u: &Principal, vs: Vec<Arc<VHost>>) -> Vec<Value> {
    let monitoring = u.satisfies(Tag::Monitoring);
    let mut out = Vec::new();
    for v in vs {
        for q in v.queues() {
            for c in q.info().consumers {
                let conn = s.broker.connections.get(c.connection);
                if !monitoring && conn.as_ref().is_some_and(|e| e.user != u.username) {
                    continue;
                }
                let channel_details = match &conn {
                    Some(e) => json!({
                        "name": channel_name(e, c.channel),
                        "number": c.channel,
                        "connection_name": e.name,
                        "peer_host": e.peer.ip().to_string(),
                        "peer_port": e.peer.port(),
                        "user": e.user,
                        "node": node_name(),
                    }),
                    None => json!({"number": c.channel}),
                };
                out.push(json!({
                    "consumer_tag": c.tag.as_str(),
                    "channel_details": channel_details,
                    "queue": {"name": q.name.as_str(), "vhost": v.name.as_str()},
                    "ack_required": !c.no_ack,
                    "exclusive": c.exclusive,
                    "prefetch_count": c.prefetch,
                    "messages_unacknowledged": c.unacked,
                    "active": c.active,
                    "activity_status": activity_status(&c, q.args.single_active_consumer),
                    "arguments": consumer_arguments(&c),
                    "consumer_timeout": s.broker.limits.consumer_timeout_ms,
                }));
            }
        }
    }
    out
}

async fn list_consumers(State(s): S, User(u): User) -> ApiResult {
    let vs = visible_vhosts(&s, &u);
    ok(Value::Array(consumers_of(&s, &u, vs)))
}

async fn list_consumers_vhost(State(s): S, User(u): User, Path(vh): Path<String>) -> ApiResult {
    let v = user_vhost(&s, &u, &vh)?;
    ok(Value::Array(consumers_of(&s, &u, vec![v])))
}

// ---------------------------------------------------------------------------------------------
// definitions, policies

fn export(s: &AppState) -> Definitions {
    s.broker.export_all_definitions()
}

async fn export_all(State(s): S, User(u): User) -> ApiResult {
    u.require(Tag::Administrator)?;
    ok(serde_json::to_value(export(&s)).unwrap_or_default())
}

async fn export_vhost(State(s): S, User(u): User, Path(vh): Path<String>) -> ApiResult {
    u.require(Tag::Administrator)?;
    vhost(&s, &vh)?;
    let d = export(&s);
    let keep = |v: &Value| v.get("vhost").and_then(Value::as_str) == Some(vh.as_str());
    let out = json!({
        "rabbit_version": d.rabbit_version,
        "rabbitmq_version": d.rabbitmq_version,
        "product_name": d.product_name,
        "product_version": d.product_version,
        // As RabbitMQ: no vhost field on queues, exchanges and bindings (policies keep theirs).
        "queues": without_vhost(d.queues.iter().filter(|q| q.vhost == vh)),
        "exchanges": without_vhost(d.exchanges.iter().filter(|x| x.vhost == vh)),
        "bindings": without_vhost(d.bindings.iter().filter(|b| b.vhost == vh)),
        "policies": d.policies.iter().filter(|p| keep(p)).collect::<Vec<_>>(),
        "parameters": d.parameters.iter().filter(|p| keep(p)).collect::<Vec<_>>(),
    });
    ok(out)
}

fn without_vhost<T: serde::Serialize>(items: impl Iterator<Item = T>) -> Vec<Value> {
    items
        .filter_map(|x| serde_json::to_value(x).ok())
        .map(|mut v| {
            if let Some(o) = v.as_object_mut() {
                o.remove("vhost");
            }
            v
        })
        .collect()
}

fn import(s: &AppState, body: &Bytes, into_vhost: Option<&str>) -> ApiResult {
    let mut doc: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    if let (Some(vh), Some(top)) = (into_vhost, doc.as_object_mut()) {
        // As RabbitMQ: a vhost's export has no vhost fields, and whatever an object says,
        // it goes to this vhost.
        for section in ["queues", "exchanges", "bindings", "policies", "parameters"] {
            if let Some(Value::Array(items)) = top.get_mut(section) {
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    item.insert("vhost".into(), json!(vh));
                }
            }
        }
        top.remove("vhosts");
    }
    let d: Definitions =
        serde_json::from_value(doc).map_err(|e| ApiError::bad_request(e.to_string()))?;
    s.broker
        .import_definitions(&d)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    // What the import made stays made if the file cannot be written (an import is not
    // undone); the answer says it was not saved.
    s.broker.save_definitions()?;
    no_content()
}

async fn import_all(State(s): S, User(u): User, body: Bytes) -> ApiResult {
    u.require(Tag::Administrator)?;
    import(&s, &body, None)
}

async fn import_vhost(
    State(s): S,
    User(u): User,
    Path(vh): Path<String>,
    body: Bytes,
) -> ApiResult {
    u.require(Tag::Administrator)?;
    vhost(&s, &vh)?;
    import(&s, &body, Some(&vh))
}

fn policies(s: &AppState, u: &Principal, vh: Option<&str>) -> Vec<Value> {
    let mut vs = visible_vhosts(s, u);
    vs.sort_by(|a, b| a.name.cmp(&b.name));
    vs.iter()
        .filter(|v| vh.is_none_or(|x| x == v.name.as_str()))
        .flat_map(|v| v.policies())
        .map(|p| p.to_json())
        .collect()
}

async fn list_policies(State(s): S, User(u): User) -> ApiResult {
    ok(Value::Array(policies(&s, &u, None)))
}

async fn list_policies_vhost(State(s): S, User(u): User, Path(vh): Path<String>) -> ApiResult {
    user_vhost(&s, &u, &vh)?;
    ok(Value::Array(policies(&s, &u, Some(&vh))))
}

async fn get_policy(
    State(s): S,
    User(u): User,
    Path((vh, name)): Path<(String, String)>,
) -> ApiResult {
    user_vhost(&s, &u, &vh)?;
    policies(&s, &u, Some(&vh))
        .into_iter()
        .find(|p| p.get("name").and_then(Value::as_str) == Some(name.as_str()))
        .map_or_else(|| Err(ApiError::not_found()), ok)
}

/// PUT /api/policies/{vhost}/{name}: `pattern`, `definition`, optional `priority` and
/// `apply-to` (RabbitMQ's body). Applied to running queues and exchanges at once.
async fn put_policy(
    State(s): S,
    User(u): User,
    Path((vh, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    u.require(Tag::Policymaker)?;
    let v = user_vhost(&s, &u, &vh)?;
    let m = parse_body(&body)?;
    let pattern =
        body_str(&m, "pattern").ok_or_else(|| ApiError::bad_request("key_missing: pattern"))?;
    let definition = match m.get("definition") {
        Some(Value::Object(d)) => d.clone(),
        Some(_) => return Err(ApiError::bad_request("definition must be a JSON object")),
        None => return Err(ApiError::bad_request("key_missing: definition")),
    };
    let priority = match m.get("priority") {
        None | Some(Value::Null) => 0,
        Some(p) => p
            .as_i64()
            .or_else(|| p.as_str()?.parse().ok())
            .ok_or_else(|| ApiError::bad_request("priority must be an integer"))?,
    };
    let apply_to = body_str(&m, "apply-to").unwrap_or("all");
    let existed = v.policies().iter().any(|p| p.name.as_str() == name);
    let policy = warren_core::policy::Policy::new(
        v.name.clone(),
        short(&name)?,
        pattern,
        apply_to,
        priority,
        definition,
    )
    .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let before = v.policies().into_iter().find(|p| p.name.as_str() == name);
    s.broker.change_durably::<_, ApiError>(
        || {
            v.set_policy(policy);
            Ok(((), true))
        },
        |()| match before {
            Some(p) => v.set_policy(p),
            None => {
                v.clear_policy(&name);
            }
        },
    )?;
    if existed {
        no_content()
    } else {
        created()
    }
}

async fn delete_policy(
    State(s): S,
    User(u): User,
    Path((vh, name)): Path<(String, String)>,
) -> ApiResult {
    u.require(Tag::Policymaker)?;
    let v = user_vhost(&s, &u, &vh)?;
    let Some(before) = v.policies().into_iter().find(|p| p.name.as_str() == name) else {
        return Err(ApiError::not_found());
    };
    s.broker.change_durably::<_, ApiError>(
        || Ok(((), v.clear_policy(&name))),
        |()| v.set_policy(before),
    )?;
    no_content()
}

// ---------------------------------------------------------------------------------------------
// health checks

fn health_failed(v: Value) -> ApiResult {
    Ok((StatusCode::SERVICE_UNAVAILABLE, Json(v)).into_response())
}

async fn health_ok(User(u): User) -> ApiResult {
    u.require(Tag::Monitoring)?;
    ok(json!({"status": "ok"}))
}

async fn health_alarms(State(s): S, User(u): User) -> ApiResult {
    u.require(Tag::Monitoring)?;
    match s.broker.current_alarm() {
        None => ok(json!({"status": "ok"})),
        Some(a) => {
            // "low on memory", "low on disk" or "low on disk & memory"
            let alarms: Vec<Value> = ["memory", "disk"]
                .into_iter()
                .filter(|r| a.contains(r))
                .map(|r| json!({"node": node_name(), "resource": r, "detail": a}))
                .collect();
            health_failed(json!({
                "status": "failed",
                "reason": "resource alarm(s) in effect in the cluster",
                "alarms": alarms,
            }))
        }
    }
}

fn listener_ports(s: &AppState) -> Vec<(&'static str, u16)> {
    let mut v = Vec::new();
    if let Some(a) = s.amqp_addr {
        v.push(("amqp", a.port()));
    }
    if let Some(a) = s.http_addr {
        v.push(("http", a.port()));
    }
    v
}

async fn health_port_listener(State(s): S, User(u): User, Path(port): Path<String>) -> ApiResult {
    u.require(Tag::Monitoring)?;
    let port: u16 = port
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid port '{port}'")))?;
    let ports = listener_ports(&s);
    if ports.iter().any(|(_, p)| *p == port) {
        ok(json!({"status": "ok", "port": port}))
    } else {
        health_failed(json!({
            "status": "failed",
            "reason": "No active listener",
            "missing": port,
            "ports": ports.iter().map(|(_, p)| *p).collect::<Vec<_>>(),
        }))
    }
}

async fn health_protocol_listener(
    State(s): S,
    User(u): User,
    Path(protocol): Path<String>,
) -> ApiResult {
    u.require(Tag::Monitoring)?;
    let ports = listener_ports(&s);
    let want = protocol.to_ascii_lowercase();
    let want = match want.as_str() {
        "amqp091" | "amqp0.9.1" | "amqp0-9-1" => "amqp",
        other => other,
    };
    if ports.iter().any(|(p, _)| *p == want) {
        ok(json!({"status": "ok", "protocol": protocol}))
    } else {
        health_failed(json!({
            "status": "failed",
            "reason": "No active listener",
            "missing": protocol,
            "protocols": ports.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        }))
    }
}

/// Declares `aliveness-test` in the vhost, publishes a message to it and gets it back.
async fn aliveness_test(State(s): S, User(u): User, Path(vh): Path<String>) -> ApiResult {
    let v = user_vhost(&s, &u, &vh)?;
    let decl = QueueDeclare {
        queue: ShortStr::from_static("aliveness-test"),
        passive: false,
        durable: false,
        exclusive: false,
        auto_delete: false,
        no_wait: false,
        arguments: FieldTable::new(),
    };
    let q = v.declare_queue(0, &decl)?.queue;
    let x = v.exchange("")?;
    let msg = Message::new(
        Route::from_short(
            &ShortStr::default(),
            &ShortStr::from_static("aliveness-test"),
        ),
        BasicProperties::default().encode(),
        bytes::Bytes::from_static(b"test_message"),
    );
    v.publish_internal(&x, msg, |_| false);
    let mut found = false;
    while let Some(got) = q.get(true) {
        found |= got.message.body.as_ref() == b"test_message";
    }
    if found {
        ok(json!({"status": "ok"}))
    } else {
        health_failed(
            json!({"status": "failed", "reason": "aliveness test message was not received"}),
        )
    }
}
