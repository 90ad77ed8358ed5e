//! Warren's management plane: a RabbitMQ-compatible HTTP API (`/api/...`), Prometheus metrics
//! (`/metrics`) and a web dashboard (`/`), all served by one axum router.
//!
//! Invariants worth naming:
//! - Read-only introspection: the API reads the broker's state through `warren_core`'s
//!   accessors (one short queue lock per queue listed; connections answer for their channels
//!   between two batches of work); nothing here sits on the message path.
//! - Rates are differences of counters sampled by one background task ([`rates::Sampler`]),
//!   so a request never waits on a measurement.
//! - Every error is JSON `{"error": ..., "reason": ...}` with RabbitMQ's status codes.
//! - A request body must be JSON (415 otherwise: what an HTML form on another site can send is
//!   refused), and every response carries CSP, frame and nosniff headers ([`security`]).
//! - Every `/api` route but `/api/auth/token` needs a user (basic auth or a bearer token) and
//!   the tag RabbitMQ asks for that route (see [`auth`]).

pub mod api;
pub mod auth;
mod dashboard;
pub mod error;
pub mod metrics;
pub mod paging;
pub mod rates;
mod security;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use warren_core::Broker;

pub use auth::Principal;
pub use error::ApiError;

/// What every handler shares.
pub struct AppState {
    pub broker: Arc<Broker>,
    /// Issues tokens for POST /api/auth/token (None: no issuer configured).
    pub token_issuer: Option<Arc<warren_auth::TokenIssuer>>,
    pub rates: Arc<rates::Sampler>,
    /// The AMQP listener's address (overview listeners, port-listener health check).
    pub amqp_addr: Option<SocketAddr>,
    /// This HTTP listener's address.
    pub http_addr: Option<SocketAddr>,
    pub started_at: std::time::Instant,
    pub node: NodeResources,
}

/// What the node reports about its resources (`/api/nodes`): the alarm limits and a probe
/// of the data directory's free disk space.
#[derive(Clone, Default)]
pub struct NodeResources {
    /// The memory high watermark, bytes (0: unknown).
    pub mem_limit: u64,
    /// The free disk limit, bytes.
    pub disk_free_limit: u64,
    /// Free disk space of the data directory now.
    pub disk_free: Option<Arc<dyn Fn() -> Option<u64> + Send + Sync>>,
}

/// Settings of the management listener.
#[derive(Clone)]
pub struct HttpConfig {
    pub amqp_addr: Option<SocketAddr>,
    /// How often rates are sampled (RabbitMQ: 5 s).
    pub sample_interval: Duration,
    /// The built-in token issuer (`[jwt.issuer]`), for POST /api/auth/token.
    pub token_issuer: Option<Arc<warren_auth::TokenIssuer>>,
    pub node: NodeResources,
}

impl HttpConfig {
    pub fn new(amqp_addr: Option<SocketAddr>) -> HttpConfig {
        HttpConfig {
            amqp_addr,
            sample_interval: Duration::from_secs(5),
            token_issuer: None,
            node: NodeResources::default(),
        }
    }
}

/// The whole router: API, metrics and dashboard.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(metrics::routes())
        .merge(dashboard::routes())
        // Last: it applies to the routes registered before it.
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(security::json_bodies_only))
        // The body is read before anything answers, a 415 included (keep-alive).
        .layer(axum::middleware::from_fn(read_whole_body))
        // Outermost last: the security headers go on every response.
        .layer(axum::middleware::from_fn(security::headers))
        .with_state(state)
}

/// The largest request body taken (RabbitMQ's `management.http.max_body_size` default).
pub const MAX_BODY: usize = 20_000_000;

/// Reads every request's body before it is routed, whether or not its handler wants it (a
/// DELETE with a JSON body, a request refused before its body is looked at). Otherwise hyper
/// finds the body unread when the response is sent and, unless the body had already arrived,
/// closes the connection: the next request a client sent on it got no response.
async fn read_whole_body(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => {
            next.run(axum::extract::Request::from_parts(parts, bytes.into()))
                .await
        }
        Err(e) => {
            let mut err = ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "bad_request",
                format!("request body not read: {e}"),
            );
            err.challenge = false;
            let mut resp = err.into_response();
            // What is left of the body is not read: the connection cannot be reused.
            resp.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
            resp
        }
    }
}

/// A known path asked with a method it does not take: 405 with the `Allow` header (axum adds
/// it, as RabbitMQ does) and, unlike RabbitMQ's empty body, the JSON error every other
/// refusal has. Answered before authentication, as RabbitMQ does.
async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    let mut e = ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "Method Not Allowed",
        format!("{method} is not allowed on {}", uri.path()),
    );
    e.challenge = false;
    e
}

/// A management listener running in the background.
pub struct HttpServer {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    task: tokio::task::JoinHandle<()>,
    /// The rates sampler (none on a metrics-only listener, which shows no rates).
    sampler: Option<tokio::task::JoinHandle<()>>,
}

impl HttpServer {
    /// Serves the management API on `listener` until stopped.
    pub fn start(listener: TcpListener, broker: Arc<Broker>, cfg: HttpConfig) -> HttpServer {
        HttpServer::serve(listener, broker, cfg, false)
    }

    /// Serves only the Prometheus metrics (`/metrics...`) on `listener`: RabbitMQ's separate
    /// `rabbitmq_prometheus` port (15692), without authentication as RabbitMQ's.
    pub fn start_metrics(
        listener: TcpListener,
        broker: Arc<Broker>,
        cfg: HttpConfig,
    ) -> HttpServer {
        HttpServer::serve(listener, broker, cfg, true)
    }

    /// Serves the management API on several sockets (one address per family of a host name)
    /// with one state; `addr` is the first socket's.
    pub fn start_many(
        listeners: Vec<TcpListener>,
        broker: Arc<Broker>,
        cfg: HttpConfig,
    ) -> HttpServer {
        HttpServer::serve(tls::ManyListener::new(listeners), broker, cfg, false)
    }

    /// [`start_many`](Self::start_many) over HTTPS.
    pub fn start_tls_many(
        listeners: Vec<TcpListener>,
        acceptor: tokio_rustls::TlsAcceptor,
        broker: Arc<Broker>,
        cfg: HttpConfig,
    ) -> HttpServer {
        HttpServer::serve(
            tls::TlsListener::new_many(listeners, acceptor),
            broker,
            cfg,
            false,
        )
    }

    /// Serves the management API over HTTPS: TLS with `acceptor` on `listener`.
    pub fn start_tls(
        listener: TcpListener,
        acceptor: tokio_rustls::TlsAcceptor,
        broker: Arc<Broker>,
        cfg: HttpConfig,
    ) -> HttpServer {
        HttpServer::serve(
            tls::TlsListener::new(listener, acceptor),
            broker,
            cfg,
            false,
        )
    }

    fn serve<L>(listener: L, broker: Arc<Broker>, cfg: HttpConfig, metrics_only: bool) -> HttpServer
    where
        L: axum::serve::Listener<Addr = SocketAddr>,
    {
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let rates = Arc::new(rates::Sampler::new(cfg.node.disk_free.clone()));
        let sampler = (!metrics_only).then(|| {
            tokio::spawn(rates::run(
                rates.clone(),
                broker.clone(),
                cfg.sample_interval,
            ))
        });
        let state = Arc::new(AppState {
            broker,
            token_issuer: cfg.token_issuer,
            rates,
            amqp_addr: cfg.amqp_addr,
            http_addr: Some(addr),
            started_at: std::time::Instant::now(),
            node: cfg.node,
        });
        let app = if metrics_only {
            metrics::routes().with_state(state.clone())
        } else {
            router(state.clone())
        };
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            // `tap_io` (a no-op here) is what gives any listener's address to ConnectInfo.
            use axum::serve::ListenerExt;
            if let Err(e) = axum::serve(listener.tap_io(|_| ()), app).await {
                tracing::error!("management HTTP listener failed: {e}");
            }
        });
        HttpServer {
            addr,
            state,
            task,
            sampler,
        }
    }

    /// Binds `addr` and serves.
    pub async fn bind(
        addr: &str,
        broker: Arc<Broker>,
        cfg: HttpConfig,
    ) -> std::io::Result<HttpServer> {
        let listener = TcpListener::bind(addr).await?;
        Ok(HttpServer::start(listener, broker, cfg))
    }

    pub fn stop(self) {
        self.task.abort();
        if let Some(s) = self.sampler {
            s.abort();
        }
    }
}
