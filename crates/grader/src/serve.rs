//! `grader serve`: the HTTP API, the web page, and the consumer of results.
//!
//! A submission's path through the service:
//!
//! 1. `POST /assignments/{id}/submissions` stores it as `queued` in SQLite, publishes a
//!    [`Job`] (persistent, to the durable [`JOBS_QUEUE`]) and waits for Warren's publisher
//!    confirm; only then does it answer 202. The answer therefore takes one round trip to
//!    the broker, whatever the length of the queue or the number of workers.
//! 2. A worker reports `running`, then the result, on [`RESULTS_QUEUE`]. The service's
//!    results consumer writes each event to SQLite and acks it after the commit, so a crash
//!    of the service between the two only means the event is delivered again (and the
//!    update is idempotent).
//!
//! The service keeps two AMQP connections: one that publishes, one that consumes (as
//! RabbitMQ recommends, so that flow control on publishing never slows consuming down).
//! Both reconnect on their own if the broker goes away.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Multipart, Path, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_lite::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions};
use lapin::types::FieldTable;
use lapin::Connection;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{watch, Mutex};
use tracing::{error, info, warn};

use crate::amqp::{self, AmqpError, Publisher};
use crate::auth::{self, Claims, TokenKeys};
use crate::db::{Db, DbError, Role, Submission};
use crate::protocol::{Case, Job, ResultEvent, JOBS_QUEUE, RESULTS_QUEUE};

/// The web page (login, upload, watch the status), embedded in the binary: no CDN, no files.
const INDEX_HTML: &str = include_str!("web/index.html");

/// How the service is set up.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub amqp_url: String,
    /// `ADDR:PORT` to listen on (port 0 picks a free port).
    pub http_listen: String,
    /// Holds `grader.sqlite3` and `jwt-secret`.
    pub data_dir: PathBuf,
    /// Optional users file (see [`crate::users`]).
    pub users_file: Option<PathBuf>,
    /// HS256 secret; when `None`, read from (or created in) `DATA_DIR/jwt-secret`.
    pub jwt_secret: Option<String>,
    /// Lifetime of issued tokens.
    pub token_ttl: Duration,
    /// Largest accepted upload, in bytes.
    pub max_upload_bytes: usize,
    /// How long an upload waits for Warren to take its job (connect if needed, publish, confirm)
    /// before it is answered 503. Under a resource alarm Warren stops reading publishers
    /// (`connection.blocked`): without this bound the upload would hang until the alarm clears.
    pub publish_timeout: Duration,
}

impl ServeConfig {
    /// How long an upload waits for the broker's confirm by default.
    pub const DEFAULT_PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

    /// Defaults: listen on 127.0.0.1:8080, tokens valid 1 hour, uploads up to 64 KiB, a job
    /// confirmed within [`DEFAULT_PUBLISH_TIMEOUT`](Self::DEFAULT_PUBLISH_TIMEOUT).
    pub fn new(amqp_url: impl Into<String>, data_dir: impl Into<PathBuf>) -> ServeConfig {
        ServeConfig {
            amqp_url: amqp_url.into(),
            http_listen: "127.0.0.1:8080".into(),
            data_dir: data_dir.into(),
            users_file: None,
            jwt_secret: None,
            token_ttl: Duration::from_secs(3600),
            max_upload_bytes: 64 << 10,
            publish_timeout: ServeConfig::DEFAULT_PUBLISH_TIMEOUT,
        }
    }
}

/// Errors starting the service.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Users(#[from] crate::users::UserError),
    #[error(transparent)]
    Amqp(#[from] AmqpError),
    #[error("{0}")]
    Io(String),
}

/// A running service (see [`Service::start`]).
pub struct Service {
    /// The HTTP address actually bound.
    pub addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    http: tokio::task::JoinHandle<()>,
    results: tokio::task::JoinHandle<()>,
    publisher: Arc<PublisherSlot>,
}

impl Service {
    /// Opens the database, connects to the broker, binds the HTTP listener and starts serving
    /// in background tasks.
    pub async fn start(config: ServeConfig) -> Result<Service, ServeError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            ServeError::Io(format!("cannot create {}: {e}", config.data_dir.display()))
        })?;
        let db = Db::open(&config.data_dir)?;
        if let Some(path) = &config.users_file {
            let n = crate::users::load_users_file(&db, path)?;
            info!("loaded {n} users from {}", path.display());
        }
        // The dummy hash unknown-user logins are checked against (one argon2 hash).
        let _ = tokio::task::spawn_blocking(auth::warm_up).await;
        let secret = match &config.jwt_secret {
            Some(s) => s.clone().into_bytes(),
            None => load_or_create_secret(&config.data_dir)?,
        };
        // Connect before answering any request: a service that cannot reach the broker at
        // start-up says so at once instead of failing every upload.
        let publisher = Arc::new(PublisherSlot::new(config.amqp_url.clone()));
        publisher.get().await?;
        let results_session = ResultsSession::open(&config.amqp_url).await?;

        let (tx, rx) = watch::channel(false);
        let results = tokio::spawn(consume_results(
            config.amqp_url.clone(),
            results_session,
            db.clone(),
            rx.clone(),
        ));
        let state = AppState {
            db,
            keys: TokenKeys::new(&secret, config.token_ttl),
            publisher: publisher.clone(),
            max_upload_bytes: config.max_upload_bytes,
            publish_timeout: config.publish_timeout,
        };
        let listener = tokio::net::TcpListener::bind(&config.http_listen)
            .await
            .map_err(|e| ServeError::Io(format!("cannot listen on {}: {e}", config.http_listen)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| ServeError::Io(e.to_string()))?;
        let app = router(state);
        let mut stop = rx;
        let http = tokio::spawn(async move {
            let graceful = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(graceful)
                .await
            {
                error!("HTTP server failed: {e}");
            }
        });
        info!("grader service listening on http://{addr}");
        Ok(Service {
            addr,
            shutdown: tx,
            http,
            results,
            publisher,
        })
    }

    /// Stops accepting requests, finishes those in progress, disconnects from the broker.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.http.await;
        let _ = self.results.await;
        self.publisher.close().await;
    }
}

fn load_or_create_secret(dir: &std::path::Path) -> Result<Vec<u8>, ServeError> {
    let path = dir.join("jwt-secret");
    match std::fs::read(&path) {
        Ok(s) if !s.is_empty() => return Ok(s),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(ServeError::Io(format!(
                "cannot read {}: {e}",
                path.display()
            )))
        }
    }
    use rand::RngCore;
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let secret: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600); // the secret signs every token: only the owner may read it
    }
    let io = |e: std::io::Error| ServeError::Io(format!("cannot write {}: {e}", path.display()));
    use std::io::Write;
    options
        .open(&path)
        .and_then(|mut f| f.write_all(secret.as_bytes()))
        .map_err(io)?;
    Ok(secret.into_bytes())
}

// ---------------------------------------------------------------------------------------
// Publishing jobs

/// The publishing connection, opened lazily and reopened after a failure.
struct PublisherSlot {
    url: String,
    current: Mutex<Option<(Connection, Publisher)>>,
}

impl PublisherSlot {
    fn new(url: String) -> PublisherSlot {
        PublisherSlot {
            url,
            current: Mutex::new(None),
        }
    }

    /// The current publisher, connecting if there is none or the old one is closed.
    async fn get(&self) -> Result<Publisher, AmqpError> {
        let mut current = self.current.lock().await;
        if let Some((conn, publisher)) = current.as_ref() {
            if conn.status().connected() && publisher.channel().status().connected() {
                return Ok(publisher.clone());
            }
        }
        let conn = amqp::connect(&self.url, "grader serve (publisher)").await?;
        let channel = conn.create_channel().await?;
        amqp::declare_queues(&channel).await?;
        let publisher = Publisher::new(channel).await?;
        *current = Some((conn, publisher.clone()));
        Ok(publisher)
    }

    async fn close(&self) {
        if let Some((conn, _)) = self.current.lock().await.take() {
            let _ = conn.close(200, "service stopping").await;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Consuming results

struct ResultsSession {
    connection: Connection,
    consumer: lapin::Consumer,
}

impl ResultsSession {
    async fn open(url: &str) -> Result<ResultsSession, AmqpError> {
        let connection = amqp::connect(url, "grader serve (results)").await?;
        let channel = connection.create_channel().await?;
        amqp::declare_queues(&channel).await?;
        channel.basic_qos(64, BasicQosOptions::default()).await?;
        let consumer = channel
            .basic_consume(
                RESULTS_QUEUE,
                "",
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(ResultsSession {
            connection,
            consumer,
        })
    }
}

/// Records results until shutdown, reconnecting when the connection is lost.
async fn consume_results(
    url: String,
    first: ResultsSession,
    db: Db,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut session = Some(first);
    while !*shutdown.borrow() {
        let mut s = match session.take() {
            Some(s) => s,
            None => match ResultsSession::open(&url).await {
                Ok(s) => s,
                Err(e) => {
                    warn!("results consumer cannot connect: {e}; retrying");
                    tokio::select! {
                        _ = shutdown.changed() => {}
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    continue;
                }
            },
        };
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                next = s.consumer.next() => match next {
                    Some(Ok(delivery)) => record_event(&db, delivery).await,
                    Some(Err(e)) => {
                        warn!("results consumer lost its connection: {e}");
                        break;
                    }
                    None => break,
                },
            }
        }
        let _ = s.connection.close(200, "bye").await;
    }
}

/// Writes one event to the database, then acks it (never before the commit).
async fn record_event(db: &Db, delivery: lapin::message::Delivery) {
    let event: ResultEvent = match serde_json::from_slice(&delivery.data) {
        Ok(e) => e,
        Err(e) => {
            error!("dropping a malformed result message: {e}");
            let _ = delivery
                .acker
                .reject(BasicRejectOptions { requeue: false })
                .await;
            return;
        }
    };
    let id = event.submission_id();
    let written = db
        .call(move |db| match &event {
            ResultEvent::Running { submission_id } => db.mark_running(*submission_id),
            ResultEvent::Graded {
                submission_id,
                result,
            } => db.record_result(*submission_id, result),
        })
        .await;
    match written {
        Ok(_) => {
            if let Err(e) = delivery.acker.ack(BasicAckOptions::default()).await {
                warn!("cannot ack result of submission {id}: {e}");
            }
        }
        // Leave it unacked: it comes back after a reconnect, when the disk may be fine again.
        Err(e) => error!("cannot record result of submission {id}: {e}"),
    }
}

// ---------------------------------------------------------------------------------------
// HTTP

#[derive(Clone)]
struct AppState {
    db: Db,
    keys: TokenKeys,
    publisher: Arc<PublisherSlot>,
    max_upload_bytes: usize,
    publish_timeout: Duration,
}

fn router(state: AppState) -> Router {
    // The exact file limit is checked while reading the field (413). The request body limit is
    // larger on purpose: an oversized upload is read to its end and discarded, so the client,
    // still sending, gets a clean 413 instead of a connection reset (a "lingering read"). Past
    // this limit the connection is cut.
    let body_limit = drain_limit(state.max_upload_bytes);
    Router::new()
        .route("/", get(|| async { Html(INDEX_HTML) }))
        .route("/login", post(login))
        .route(
            "/assignments",
            post(create_assignment).get(list_assignments),
        )
        .route(
            "/assignments/{id}/submissions",
            post(submit).get(list_assignment_submissions),
        )
        .route("/submissions", get(my_submissions))
        .route("/submissions/{id}", get(get_submission))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// How many bytes of an oversized request are read (and discarded) before giving up on it.
fn drain_limit(max_upload_bytes: usize) -> usize {
    max_upload_bytes.saturating_mul(4).max(1 << 20) + 16 * 1024
}

/// An error answer: the status and `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
    fn bad_request(m: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, m)
    }
    fn unauthorized(m: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, m)
    }
    fn forbidden(m: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, m)
    }
    fn not_found(m: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, m)
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> ApiError {
        error!("{e}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> ApiError {
        ApiError::bad_request(e.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({ "error": self.message }));
        if self.status == StatusCode::UNAUTHORIZED {
            (self.status, [(WWW_AUTHENTICATE, "Bearer")], body).into_response()
        } else {
            (self.status, body).into_response()
        }
    }
}

/// The caller, from a valid `Authorization: Bearer <JWT>` header (401 otherwise).
struct AuthUser(Claims);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer token"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(bearer_token)
            .ok_or_else(|| ApiError::unauthorized("expected Authorization: Bearer <token>"))?;
        state
            .keys
            .verify(token)
            .map(AuthUser)
            .map_err(|e| ApiError::unauthorized(e.to_string()))
    }
}

/// The token of an `Authorization` header value `Bearer <token>`. The scheme is matched
/// case-insensitively (RFC 7235: `bearer`, `BEARER` are the same scheme) and may be followed
/// by more than one space.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Parses an id from the path; anything else is a resource that does not exist.
fn parse_id(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::not_found(format!("no such {what}")))
}

#[derive(Deserialize)]
struct LoginRequest {
    username: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(req) = body?;
    let name = req.username.clone();
    let user = state.db.call(move |db| db.user(&name)).await?;
    // Password hashing is deliberately slow: keep it off the async runtime. An unknown user
    // costs one verification too (against a dummy hash), so timing does not reveal names.
    let role = tokio::task::spawn_blocking(move || {
        let hash = user.as_ref().map(|u| u.password_hash.as_str());
        auth::verify_login(hash, &req.password)
            .then(|| user.map(|u| u.role))
            .flatten()
    })
    .await
    .ok()
    .flatten()
    .ok_or_else(|| ApiError::unauthorized("invalid username or password"))?;
    let token = state
        .keys
        .issue(&req.username, role)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(json!({ "token": token, "role": role })))
}

#[derive(Deserialize)]
struct NewAssignment {
    title: String,
    cases: Vec<Case>,
}

/// Bounds on what a teacher may create (each case runs on every submission).
const MAX_CASES: usize = 100;
const MAX_CASE_BYTES: usize = 64 << 10;

async fn create_assignment(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    body: Result<Json<NewAssignment>, JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    if user.role != Role::Teacher {
        return Err(ApiError::forbidden("only teachers create assignments"));
    }
    let Json(new) = body?;
    let title = new.title.trim().to_owned();
    if title.is_empty() {
        return Err(ApiError::bad_request("the title must not be empty"));
    }
    if new.cases.is_empty() || new.cases.len() > MAX_CASES {
        return Err(ApiError::bad_request(format!(
            "an assignment needs 1 to {MAX_CASES} cases"
        )));
    }
    if new
        .cases
        .iter()
        .any(|c| c.stdin.len() > MAX_CASE_BYTES || c.expected_stdout.len() > MAX_CASE_BYTES)
    {
        return Err(ApiError::bad_request(format!(
            "a case's stdin and expected_stdout are limited to {MAX_CASE_BYTES} bytes"
        )));
    }
    let id = state
        .db
        .call(move |db| db.create_assignment(&title, &user.sub, &new.cases))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

#[derive(Serialize)]
struct AssignmentSummary {
    id: i64,
    title: String,
    owner: String,
}

async fn list_assignments(
    AuthUser(_): AuthUser,
    State(state): State<AppState>,
) -> Result<Json<Vec<AssignmentSummary>>, ApiError> {
    let all = state.db.call(|db| db.assignments()).await?;
    Ok(Json(
        all.into_iter()
            .map(|a| AssignmentSummary {
                id: a.id,
                title: a.title,
                owner: a.owner,
            })
            .collect(),
    ))
}

/// Reads the multipart field `file`: its name and text. 413 past the size limit, 400 when it
/// is missing, empty or not text.
async fn read_upload(mut form: Multipart, limit: usize) -> Result<(String, String), ApiError> {
    let multipart_err = |e: axum::extract::multipart::MultipartError| {
        ApiError::new(e.status(), format!("bad upload: {}", e.body_text()))
    };
    while let Some(mut field) = form.next_field().await.map_err(multipart_err)? {
        if field.name() != Some("file") {
            continue;
        }
        let file_name = field
            .file_name()
            .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).to_owned())
            .filter(|n| !n.is_empty() && n.len() <= 255)
            .unwrap_or_else(|| "submission.s".to_owned());
        let mut bytes = Vec::new();
        let mut too_large = false;
        while let Some(chunk) = field.chunk().await.map_err(multipart_err)? {
            // Past the limit, keep reading but keep nothing (see `drain_limit`).
            too_large |= bytes.len() + chunk.len() > limit;
            if !too_large {
                bytes.extend_from_slice(&chunk);
            }
        }
        if too_large {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the file is larger than {limit} bytes"),
            ));
        }
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(ApiError::bad_request("the file is empty"));
        }
        let text = String::from_utf8(bytes)
            .ok()
            .filter(|t| !t.contains('\0'))
            .ok_or_else(|| {
                ApiError::bad_request("not a text file (expected UTF-8 assembly source)")
            })?;
        return Ok((file_name, text));
    }
    Err(ApiError::bad_request("multipart field 'file' is missing"))
}

async fn submit(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let assignment_id = parse_id(&raw_id, "assignment")?;
    let assignment = state
        .db
        .call(move |db| db.assignment(assignment_id))
        .await?
        .ok_or_else(|| ApiError::not_found("no such assignment"))?;
    let form = form.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let (file_name, source) = read_upload(form, state.max_upload_bytes).await?;

    let (name, source_copy, file_copy) = (user.sub.clone(), source.clone(), file_name.clone());
    let id = state
        .db
        .call(move |db| db.create_submission(assignment_id, &name, &file_copy, &source_copy))
        .await?;
    let job = Job {
        submission_id: id,
        file_name,
        source,
        cases: assignment.cases,
    };
    // 202 only once the broker has confirmed the persistent job, within the time limit.
    if let Err(e) = queue_job(&state, &job).await {
        warn!("cannot queue submission {id}: {e}");
        // Not accepted: forget it, so that no submission stays "queued" forever. (After a
        // timeout the broker may still take the job later; its results then match no row
        // and are ignored: ids are never reused.)
        state.db.call(move |db| db.delete_submission(id)).await?;
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            e.to_string(),
        ));
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": id, "status": "queued" })),
    ))
}

/// Why a job was not queued (each answered 503, with this text).
#[derive(Debug, thiserror::Error)]
enum QueueJobError {
    #[error("the job queue is unavailable ({0}); try again later")]
    Unavailable(AmqpError),
    #[error("the job queue refused the job (it may be full); try again later")]
    Refused,
    #[error(
        "the job queue did not confirm the job within {} ms (Warren may be blocking \
         publishers under a resource alarm); try again later",
        .0.as_millis()
    )]
    Timeout(Duration),
}

/// Publishes the job and waits for Warren's confirm, at most `publish_timeout`.
async fn queue_job(state: &AppState, job: &Job) -> Result<(), QueueJobError> {
    let publish = async {
        let publisher = state.publisher.get().await?;
        publisher
            .publish(JOBS_QUEUE, job, &job.submission_id.to_string())
            .await
    };
    match tokio::time::timeout(state.publish_timeout, publish).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(AmqpError::Nacked)) => Err(QueueJobError::Refused),
        Ok(Err(e)) => Err(QueueJobError::Unavailable(e)),
        Err(_elapsed) => Err(QueueJobError::Timeout(state.publish_timeout)),
    }
}

/// Students see their own submissions; teachers those to their assignments.
fn may_see(user: &Claims, s: &Submission) -> bool {
    s.student == user.sub || (user.role == Role::Teacher && s.assignment_owner == user.sub)
}

async fn get_submission(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
) -> Result<Json<Submission>, ApiError> {
    let id = parse_id(&raw_id, "submission")?;
    let submission = state.db.call(move |db| db.submission(id)).await?;
    match submission {
        // Someone else's submission is "not found": its existence is not revealed.
        Some(s) if may_see(&user, &s) => Ok(Json(s)),
        _ => Err(ApiError::not_found("no such submission")),
    }
}

async fn my_submissions(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
) -> Result<Json<Vec<Submission>>, ApiError> {
    let name = user.sub.clone();
    Ok(Json(
        state
            .db
            .call(move |db| db.submissions_of_student(&name))
            .await?,
    ))
}

async fn list_assignment_submissions(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
) -> Result<Json<Vec<Submission>>, ApiError> {
    if user.role != Role::Teacher {
        return Err(ApiError::forbidden(
            "only teachers list an assignment's submissions",
        ));
    }
    let id = parse_id(&raw_id, "assignment")?;
    let assignment = state.db.call(move |db| db.assignment(id)).await?;
    match assignment {
        Some(a) if a.owner == user.sub => Ok(Json(
            state
                .db
                .call(move |db| db.submissions_of_assignment(id))
                .await?,
        )),
        _ => Err(ApiError::not_found("no such assignment")),
    }
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for header in [
            "Bearer abc.def",
            "bearer abc.def",
            "BEARER abc.def",
            "bEaReR  abc.def ",
        ] {
            assert_eq!(bearer_token(header), Some("abc.def"), "{header:?}");
        }
    }

    #[test]
    fn other_schemes_and_empty_tokens_are_not_bearer_tokens() {
        for header in [
            "Basic c2FtOnNhbS1wdw==",
            "Bearer",
            "Bearer ",
            "Bearerabc",
            "abc",
            "",
        ] {
            assert_eq!(bearer_token(header), None, "{header:?}");
        }
    }
}
