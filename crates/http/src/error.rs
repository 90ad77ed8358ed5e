//! API errors: JSON `{"error": ..., "reason": ...}` with RabbitMQ's status codes and words.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use warren_core::AmqpError;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{status}: {error}: {reason}")]
pub struct ApiError {
    pub status: StatusCode,
    pub error: String,
    pub reason: String,
    /// Send `WWW-Authenticate` with a 401 (not to the dashboard's own requests: browsers
    /// would pop up their login dialog).
    pub challenge: bool,
    /// A reason that is not a string (RabbitMQ answers some refusals with an Erlang term
    /// rendered as JSON, e.g. `["no_such_user","bob"]`); sent instead of `reason`.
    pub reason_json: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &str, reason: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error: error.to_string(),
            reason: reason.into(),
            challenge: true,
            reason_json: None,
        }
    }

    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "Object Not Found", "Not Found")
    }

    pub fn bad_request(reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", reason)
    }

    pub fn unauthorized(reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "not_authorized", reason)
    }

    /// The same error with a JSON reason (see [`ApiError::reason_json`]).
    pub fn with_reason_json(mut self, reason: serde_json::Value) -> ApiError {
        self.reason_json = Some(reason);
        self
    }

    pub fn forbidden(reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "not_authorized", reason)
    }
}

/// A broker refusal (a declare that does not match, a delete precondition...) as RabbitMQ's
/// management API reports it: 400 for precondition failures, 404 for missing objects, 403 for
/// access refusals, 500 for a change that could not be saved (541).
impl From<AmqpError> for ApiError {
    fn from(e: AmqpError) -> ApiError {
        let status = match e.code {
            541 => StatusCode::INTERNAL_SERVER_ERROR,
            404 => StatusCode::NOT_FOUND,
            403 => StatusCode::FORBIDDEN,
            405 => StatusCode::METHOD_NOT_ALLOWED,
            _ => StatusCode::BAD_REQUEST,
        };
        let word = match e.code {
            541 => "internal_server_error",
            404 => "not_found",
            403 => "access_refused",
            405 => "resource_locked",
            _ => "bad_request",
        };
        ApiError::new(status, word, e.text.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let reason = self
            .reason_json
            .unwrap_or(serde_json::Value::String(self.reason));
        let body = serde_json::json!({"error": self.error, "reason": reason});
        let mut r = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED && self.challenge {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Basic realm=\"RabbitMQ Management\""),
            );
        }
        r
    }
}
