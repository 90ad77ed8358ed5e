//! What keeps another web site from driving the management API with a logged-in browser's
//! credentials (cross-site request forgery), and the response headers a browser needs to keep
//! the dashboard out of other sites' frames and scripts.
//!
//! A browser sends a cross-site request without asking the server first (a CORS preflight)
//! only when its body is `text/plain`, `application/x-www-form-urlencoded` or
//! `multipart/form-data` (or it has no type): exactly what an HTML form on another site can
//! post, with the basic-auth credentials the browser has cached. The API takes JSON only, so a
//! request that carries a body of any other type is refused with 415 before it reaches a
//! handler; a site that wants to send `application/json` must pass a preflight, which this
//! server never grants (it sends no CORS headers).

use axum::extract::Request;
use axum::http::header::{self, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The dashboard's scripts, styles and API calls are all this origin's; nothing may frame it.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
                   frame-ancestors 'none'";

/// Whether a request carries a body: a non-zero `Content-Length`, or any `Transfer-Encoding`.
fn has_body(req: &Request) -> bool {
    let h = req.headers();
    h.contains_key(header::TRANSFER_ENCODING)
        || h.get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

/// `application/json`, with or without parameters (`; charset=utf-8`), in any case.
fn is_json(v: Option<&HeaderValue>) -> bool {
    v.and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim())
        .is_some_and(|t| t.eq_ignore_ascii_case("application/json"))
}

/// Refuses a body that is not JSON (415), whatever the method.
pub async fn json_bodies_only(req: Request, next: Next) -> Response {
    let carries = req.method() != Method::GET && req.method() != Method::HEAD && has_body(&req);
    if carries && !is_json(req.headers().get(header::CONTENT_TYPE)) {
        let got = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_string();
        let mut e = ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type",
            format!("request bodies must be application/json (Content-Type: {got})"),
        );
        e.challenge = false;
        return e.into_response();
    }
    next.run(req).await
}

/// Adds the browser-facing security headers to every response.
pub async fn headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    resp
}
