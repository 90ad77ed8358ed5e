//! Users without permissions, bulk deletion, reading topic permissions by vhost and user, and
//! a user's connections (listed and closed), in RabbitMQ 3.10's shapes.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde_json::{json, Value};
use warren_core::AmqpError;

use super::{no_content, node_name, ok, parse_body, vhost, ApiResult, S};
use crate::auth::{Principal, Tag, User};
use crate::error::ApiError;
use crate::AppState;

/// GET /api/users/without-permissions: the users with no permissions in any vhost.
pub(super) async fn without_permissions(State(s): S, User(u): User) -> ApiResult {
    u.require(Tag::Administrator)?;
    let db = s.broker.auth();
    let with: Vec<String> = db.permissions().into_iter().map(|p| p.user).collect();
    let users: Vec<_> = db
        .users()
        .into_iter()
        .filter(|x| !with.contains(&x.name))
        .collect();
    ok(serde_json::to_value(users).unwrap_or_default())
}

/// POST /api/users/bulk-delete `{"users": [...]}`: 204. As RabbitMQ, names are deleted in
/// order, and the first that is no user stops it with 400 `["no_such_user", name]` (those
/// before it are gone).
pub(super) async fn bulk_delete(State(s): S, User(u): User, body: Bytes) -> ApiResult {
    u.require(Tag::Administrator)?;
    let m = parse_body(&body)?;
    let names = match m.get("users") {
        None => return Err(ApiError::bad_request("[{key_missing,users}]")),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(ApiError::bad_request("users must be a list of names")),
    };
    let db = s.broker.auth();
    // Users before an unknown name stay deleted (as in RabbitMQ): saved whatever the answer.
    let result = s.broker.change_settings_durably(|| {
        for n in &names {
            match n.as_str().map(|name| db.delete_user(name)) {
                Some(Ok(())) => {}
                _ => {
                    let reason = json!(["no_such_user", n]);
                    let e = ApiError::bad_request(reason.to_string()).with_reason_json(reason);
                    return Ok(Err(e));
                }
            }
        }
        Ok::<_, ApiError>(Ok(()))
    })?;
    result?;
    no_content()
}

fn topic_permissions_where(
    s: &AppState,
    f: impl Fn(&warren_auth::TopicPermissionInfo) -> bool,
) -> Vec<warren_auth::TopicPermissionInfo> {
    s.broker
        .auth()
        .topic_permissions()
        .into_iter()
        .filter(|p| f(p))
        .collect()
}

/// GET /api/topic-permissions/{vhost}/{user}: the user's topic permissions there (one per
/// exchange); 404 when there are none.
pub(super) async fn get_topic_permissions(
    State(s): S,
    User(u): User,
    Path((vh, user)): Path<(String, String)>,
) -> ApiResult {
    u.require(Tag::Administrator)?;
    vhost(&s, &vh)?;
    let v = topic_permissions_where(&s, |p| p.vhost == vh && p.user == user);
    if v.is_empty() {
        return Err(ApiError::not_found());
    }
    ok(serde_json::to_value(v).unwrap_or_default())
}

/// GET /api/users/{user}/topic-permissions.
pub(super) async fn user_topic_permissions(
    State(s): S,
    User(u): User,
    Path(user): Path<String>,
) -> ApiResult {
    u.require(Tag::Administrator)?;
    s.broker
        .auth()
        .user(&user)
        .ok_or_else(ApiError::not_found)?;
    let v = topic_permissions_where(&s, |p| p.user == user);
    ok(serde_json::to_value(v).unwrap_or_default())
}

/// GET /api/vhosts/{vhost}/topic-permissions.
pub(super) async fn vhost_topic_permissions(
    State(s): S,
    User(u): User,
    Path(vh): Path<String>,
) -> ApiResult {
    u.require(Tag::Administrator)?;
    vhost(&s, &vh)?;
    let v = topic_permissions_where(&s, |p| p.vhost == vh);
    ok(serde_json::to_value(v).unwrap_or_default())
}

/// Monitoring users (and administrators) may look at anyone's connections, others at their
/// own. (RabbitMQ answers a management user 500 here.)
fn may_see_connections_of(u: &Principal, user: &str) -> Result<(), ApiError> {
    if u.username == user {
        return Ok(());
    }
    u.require(Tag::Monitoring)
}

/// GET /api/connections/username/{user}: RabbitMQ's tracked connections of the user:
/// `name`, `vhost`, `user`, `node` each.
pub(super) async fn user_connections(
    State(s): S,
    User(u): User,
    Path(user): Path<String>,
) -> ApiResult {
    may_see_connections_of(&u, &user)?;
    let node = node_name();
    let mut conns = s.broker.connections.list();
    conns.retain(|c| c.user == user);
    conns.sort_by(|a, b| a.name.cmp(&b.name));
    let items: Vec<Value> = conns
        .iter()
        .map(|c| json!({"name": c.name, "vhost": c.vhost, "user": c.user, "node": node}))
        .collect();
    ok(Value::Array(items))
}

/// DELETE /api/connections/username/{user}: closes every connection of the user with 320
/// (the reason from `X-Reason` if given, as DELETE /api/connections/{name}); 204 even when
/// there were none.
pub(super) async fn close_user_connections(
    State(s): S,
    User(u): User,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    if u.username != user {
        u.require(Tag::Administrator)?;
    }
    let reason = headers
        .get("x-reason")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("Closed via management plugin");
    for c in s.broker.connections.list() {
        if c.user == user {
            c.close(AmqpError::new(
                warren_amqp::reply_code::CONNECTION_FORCED,
                reason,
            ));
        }
    }
    no_content()
}
