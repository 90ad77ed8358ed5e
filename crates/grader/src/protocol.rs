//! The messages `grader serve` and `grader worker` exchange through Warren: the contract
//! between the two processes, and the only thing they share.
//!
//! ```text
//!  serve --(Job, persistent, confirmed)--> [grader.jobs] --(prefetch N)--> worker
//!  serve <--(ResultEvent, persistent)---- [grader.results] <--(confirmed)-- worker
//! ```
//!
//! Both queues are durable and every message is persistent (delivery mode 2), so a restart
//! of Warren, of the service or of a worker loses nothing. Bodies are JSON: easy to read in
//! Warren's management UI and to produce from any language.
//!
//! Delivery is at least once: a worker that dies before acking a job gets it redelivered to
//! another worker, and the service may see the same result twice. Consumers are therefore
//! idempotent: a submission that is already graded ignores later events.

use serde::{Deserialize, Serialize};

/// Durable queue of grading jobs (service -> workers).
pub const JOBS_QUEUE: &str = "grader.jobs";
/// Durable queue of results and progress events (workers -> service).
pub const RESULTS_QUEUE: &str = "grader.results";

/// Identifier of a submission (SQLite rowid in the service).
pub type SubmissionId = i64;

/// One test case of an assignment: the program's whole standard input and the exact
/// standard output it must print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub stdin: String,
    pub expected_stdout: String,
}

/// A grading job: everything a worker needs, so workers never touch the service's database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub submission_id: SubmissionId,
    /// The uploaded file's name, used in error messages (`times10.s:3: error: ...`).
    pub file_name: String,
    /// The program's source text.
    pub source: String,
    pub cases: Vec<Case>,
}

/// What a worker reports on [`RESULTS_QUEUE`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ResultEvent {
    /// A worker took the job (sent again if the job is redelivered).
    Running { submission_id: SubmissionId },
    /// The final result.
    Graded {
        submission_id: SubmissionId,
        result: GradeResult,
    },
}

impl ResultEvent {
    pub fn submission_id(&self) -> SubmissionId {
        match self {
            ResultEvent::Running { submission_id } | ResultEvent::Graded { submission_id, .. } => {
                *submission_id
            }
        }
    }
}

/// The result of grading one submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeResult {
    /// Number of cases passed.
    pub passed: u32,
    /// Number of cases.
    pub total: u32,
    /// One entry per case, in the assignment's order (empty when the program did not assemble).
    pub cases: Vec<CaseResult>,
    /// Why no case counts: assembly errors, one per line as `FILE:LINE: error: MESSAGE`
    /// (nothing ran), or `time limit exceeded: ...` (the job ran past the worker's
    /// wall-clock limit). `cases` is empty then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The outcome of one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseResult {
    pub passed: bool,
    pub stdin: String,
    pub expected_stdout: String,
    /// What the program printed (lossily decoded as UTF-8, capped).
    pub actual_stdout: String,
    /// Unified line diff from expected to actual, when they differ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// Runtime error or step limit (`FILE:LINE: runtime error: ...`), when the run did not exit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The program's exit code when it exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Instructions executed.
    pub steps: u64,
}
