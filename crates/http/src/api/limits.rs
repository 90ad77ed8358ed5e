//! `/api/vhost-limits` (`max-connections`, `max-queues`: the vhost's `vhost-limits`
//! parameter) and `/api/user-limits` (`max-connections`, `max-channels`: the user's `limits`),
//! in RabbitMQ 3.10's shapes. The server enforces them (`warren_server::limits`, and the core
//! for `max-queues`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use serde_json::{json, Value};
use warren_core::parameters::{validate_limits, USER_LIMIT_KEYS};

use super::parameters::{body_value, parameter_error};
use super::{no_content, ok, user_vhost, visible_vhosts, ApiResult, S};
use crate::auth::{Tag, User};
use crate::error::ApiError;

/// A limits value with nothing in it (`{}`, or RabbitMQ's `[]` once the last was cleared).
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// GET /api/vhost-limits: `[{"vhost", "value"}]` for the visible vhosts that have a limits
/// parameter (as RabbitMQ, also one whose last limit was cleared: `"value": []`).
pub(super) async fn list_vhost_limits(State(s): S, User(u): User) -> ApiResult {
    let mut vs = visible_vhosts(&s, &u);
    vs.sort_by(|a, b| a.name.cmp(&b.name));
    let items: Vec<Value> = vs
        .iter()
        .filter_map(|v| {
            let value = s.broker.vhost_limits(&v.name)?;
            Some(json!({"vhost": v.name.as_str(), "value": value}))
        })
        .collect();
    ok(Value::Array(items))
}

/// GET /api/vhost-limits/{vhost}: `[]` when it has none.
pub(super) async fn get_vhost_limits(
    State(s): S,
    User(u): User,
    Path(vh): Path<String>,
) -> ApiResult {
    user_vhost(&s, &u, &vh)?;
    let items: Vec<Value> = s
        .broker
        .vhost_limits(&vh)
        .filter(|v| !is_empty(v))
        .map(|value| json!({"vhost": vh, "value": value}))
        .into_iter()
        .collect();
    ok(Value::Array(items))
}

/// PUT /api/vhost-limits/{vhost}/{name} `{"value": n}`: 204 (negative: no limit).
pub(super) async fn put_vhost_limit(
    State(s): S,
    User(u): User,
    Path((vh, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    u.require(Tag::Administrator)?;
    let value = body_value(&body)?;
    s.broker.change_settings_durably(|| {
        s.broker
            .set_vhost_limit(&vh, &name, &value)
            .map_err(parameter_error)
    })?;
    no_content()
}

/// DELETE /api/vhost-limits/{vhost}/{name}: 204, whether or not it was set.
pub(super) async fn delete_vhost_limit(
    State(s): S,
    User(u): User,
    Path((vh, name)): Path<(String, String)>,
) -> ApiResult {
    u.require(Tag::Administrator)?;
    s.broker.change_settings_durably(|| {
        s.broker
            .clear_vhost_limit(&vh, &name)
            .map_err(parameter_error)
    })?;
    no_content()
}

fn user_limits_json(user: &warren_auth::UserInfo) -> Option<Value> {
    (!user.limits.is_empty()).then(|| json!({"user": user.name, "value": user.limits}))
}

/// GET /api/user-limits: `[{"user", "value"}]` for the users with limits.
pub(super) async fn list_user_limits(State(s): S, User(_): User) -> ApiResult {
    let items: Vec<Value> = s
        .broker
        .auth()
        .users()
        .iter()
        .filter_map(user_limits_json)
        .collect();
    ok(Value::Array(items))
}

/// GET /api/user-limits/{user}: `[]` when the user has none; 404 for no such user.
pub(super) async fn get_user_limits(
    State(s): S,
    User(_): User,
    Path(name): Path<String>,
) -> ApiResult {
    let user = s
        .broker
        .auth()
        .user(&name)
        .ok_or_else(ApiError::not_found)?;
    ok(Value::Array(user_limits_json(&user).into_iter().collect()))
}

/// RabbitMQ's refusal for a user that does not exist: `"reason": ["no_such_user", name]`.
fn no_such_user(name: &str) -> ApiError {
    ApiError::bad_request(json!(["no_such_user", name]).to_string())
        .with_reason_json(json!(["no_such_user", name]))
}

/// PUT /api/user-limits/{user}/{name} `{"value": n}`: 204 (negative: no limit).
pub(super) async fn put_user_limit(
    State(s): S,
    User(u): User,
    Path((user, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    u.require(Tag::Administrator)?;
    let value = body_value(&body)?;
    let db = s.broker.auth();
    let mut limits = db.user(&user).ok_or_else(|| no_such_user(&user))?.limits;
    limits.insert(name, value);
    validate_limits(&limits, &USER_LIMIT_KEYS, "user-limits").map_err(ApiError::bad_request)?;
    s.broker.change_settings_durably(|| {
        db.set_limits(&user, limits)
            .map_err(|_| no_such_user(&user))
    })?;
    no_content()
}

/// DELETE /api/user-limits/{user}/{name}: 204, whether or not it was set.
pub(super) async fn delete_user_limit(
    State(s): S,
    User(u): User,
    Path((user, name)): Path<(String, String)>,
) -> ApiResult {
    u.require(Tag::Administrator)?;
    let db = s.broker.auth();
    let mut limits = db.user(&user).ok_or_else(ApiError::not_found)?.limits;
    if limits.remove(&name).is_some() {
        s.broker.change_settings_durably(|| {
            db.set_limits(&user, limits)
                .map_err(|_| ApiError::not_found())
        })?;
    }
    no_content()
}
