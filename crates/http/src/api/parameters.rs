//! `/api/parameters` (per-vhost runtime parameters: federation upstreams, shovels, vhost
//! limits, stored as opaque JSON in `warren_core::parameters`) and `/api/global-parameters`,
//! in RabbitMQ 3.10's shapes, codes and error texts.

use axum::body::Bytes;
use axum::extract::{Path, State};
use serde_json::Value;
use warren_core::parameters::ParameterError;

use super::{created, no_content, ok, parse_body, user_vhost, visible_vhosts, ApiResult, S};
use crate::auth::{Principal, Tag, User};
use crate::error::ApiError;
use crate::AppState;

/// A parameter refusal as RabbitMQ words it.
pub(super) fn parameter_error(e: ParameterError) -> ApiError {
    match e {
        ParameterError::Invalid(reason) => {
            ApiError::bad_request(format!("Validation failed\n\n{reason}\n"))
        }
        ParameterError::NoSuchVhost => ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "not_found",
            "vhost_not_found",
        ),
    }
}

/// The body's `value` (RabbitMQ: 400 `[{key_missing,value}]` without one).
pub(super) fn body_value(body: &Bytes) -> Result<Value, ApiError> {
    parse_body(body)?
        .remove("value")
        .ok_or_else(|| ApiError::bad_request("[{key_missing,value}]"))
}

fn list(s: &AppState, u: &Principal, component: Option<&str>, vhost: Option<&str>) -> ApiResult {
    let visible: Vec<String> = visible_vhosts(s, u)
        .iter()
        .map(|v| v.name.to_string())
        .collect();
    let items: Vec<_> = s
        .broker
        .parameters()
        .list(component, vhost)
        .into_iter()
        .filter(|p| visible.contains(&p.vhost))
        .collect();
    ok(serde_json::to_value(items).unwrap_or_default())
}

pub(super) async fn list_all(State(s): S, User(u): User) -> ApiResult {
    u.require(Tag::Policymaker)?;
    list(&s, &u, None, None)
}

pub(super) async fn list_component(
    State(s): S,
    User(u): User,
    Path(component): Path<String>,
) -> ApiResult {
    u.require(Tag::Policymaker)?;
    list(&s, &u, Some(&component), None)
}

pub(super) async fn list_component_vhost(
    State(s): S,
    User(u): User,
    Path((component, vh)): Path<(String, String)>,
) -> ApiResult {
    u.require(Tag::Policymaker)?;
    user_vhost(&s, &u, &vh)?;
    list(&s, &u, Some(&component), Some(&vh))
}

pub(super) async fn get_parameter(
    State(s): S,
    User(u): User,
    Path((component, vh, name)): Path<(String, String, String)>,
) -> ApiResult {
    u.require(Tag::Policymaker)?;
    user_vhost(&s, &u, &vh)?;
    s.broker
        .parameters()
        .list(Some(&component), Some(&vh))
        .into_iter()
        .find(|p| p.name == name)
        .map_or_else(
            || Err(ApiError::not_found()),
            |p| ok(serde_json::to_value(p).unwrap_or_default()),
        )
}

/// PUT /api/parameters/{component}/{vhost}/{name} `{"value": ...}`: 201 new, 204 replaced.
pub(super) async fn put_parameter(
    State(s): S,
    User(u): User,
    Path((component, vh, name)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    u.require(Tag::Policymaker)?;
    if s.broker.vhost(&vh).is_some() {
        user_vhost(&s, &u, &vh)?;
    }
    let value = body_value(&body)?;
    let new = s.broker.change_settings_durably(|| {
        s.broker
            .set_parameter(&component, &vh, &name, value)
            .map_err(parameter_error)
    })?;
    if new {
        created()
    } else {
        no_content()
    }
}

pub(super) async fn delete_parameter(
    State(s): S,
    User(u): User,
    Path((component, vh, name)): Path<(String, String, String)>,
) -> ApiResult {
    u.require(Tag::Policymaker)?;
    user_vhost(&s, &u, &vh)?;
    s.broker.change_settings_durably(|| {
        match s.broker.clear_parameter(&component, &vh, &name) {
            true => Ok(()),
            false => Err(ApiError::not_found()),
        }
    })?;
    no_content()
}

pub(super) async fn list_global(State(s): S, User(u): User) -> ApiResult {
    u.require(Tag::Policymaker)?;
    ok(serde_json::to_value(s.broker.parameters().globals()).unwrap_or_default())
}

pub(super) async fn get_global(State(s): S, User(u): User, Path(name): Path<String>) -> ApiResult {
    u.require(Tag::Policymaker)?;
    let value = s
        .broker
        .parameters()
        .global(&name)
        .ok_or_else(ApiError::not_found)?;
    ok(serde_json::json!({"value": value, "name": name}))
}

/// PUT /api/global-parameters/{name} `{"value": ...}`: 201 new, 204 replaced.
pub(super) async fn put_global(
    State(s): S,
    User(u): User,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    u.require(Tag::Policymaker)?;
    let value = body_value(&body)?;
    let new = s.broker.change_settings_durably(|| {
        Ok::<_, ApiError>(s.broker.parameters().set_global(&name, value))
    })?;
    if new {
        created()
    } else {
        no_content()
    }
}

pub(super) async fn delete_global(
    State(s): S,
    User(u): User,
    Path(name): Path<String>,
) -> ApiResult {
    u.require(Tag::Policymaker)?;
    s.broker
        .change_settings_durably(|| match s.broker.parameters().clear_global(&name) {
            true => Ok(()),
            false => Err(ApiError::not_found()),
        })?;
    no_content()
}
