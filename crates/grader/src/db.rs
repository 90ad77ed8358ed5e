//! The service's durable state in SQLite: users, assignments and submissions with their
//! results. One connection behind a mutex; every call is short, and async callers run it on
//! the blocking pool ([`Db::call`]) so the runtime never waits on the disk.
//!
//! Durability: WAL journal with `synchronous=FULL`, so a committed result survives a crash
//! of the service (and the service acks a result message only after the commit).

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::protocol::{Case, GradeResult, SubmissionId};

/// Errors of the database layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("corrupt JSON in the database: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the database task failed: {0}")]
    Task(String),
}

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Student,
    Teacher,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Student => "student",
            Role::Teacher => "teacher",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "student" => Some(Role::Student),
            "teacher" => Some(Role::Teacher),
            _ => None,
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::parse(s).ok_or_else(|| format!("unknown role '{s}' (student or teacher)"))
    }
}

/// A stored user.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub role: Role,
    /// PHC string (argon2id).
    pub password_hash: String,
}

/// An assignment as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Assignment {
    pub id: i64,
    pub title: String,
    pub owner: String,
    #[serde(skip)]
    pub cases: Vec<Case>,
}

/// Where a submission is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Running,
    Graded,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Graded => "graded",
        }
    }

    fn parse(s: &str) -> Status {
        match s {
            "running" => Status::Running,
            "graded" => Status::Graded,
            _ => Status::Queued,
        }
    }
}

/// A submission as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Submission {
    pub id: SubmissionId,
    pub assignment_id: i64,
    pub student: String,
    pub file_name: String,
    pub status: Status,
    pub result: Option<GradeResult>,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
    #[serde(skip)]
    pub assignment_owner: String,
}

/// Handle to the database (cheap to clone).
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS assignments (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    title      TEXT NOT NULL,
    owner      TEXT NOT NULL,
    cases      TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS submissions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    assignment_id INTEGER NOT NULL REFERENCES assignments(id),
    student       TEXT NOT NULL,
    file_name     TEXT NOT NULL,
    source        TEXT NOT NULL,
    status        TEXT NOT NULL,
    result        TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS submissions_by_assignment ON submissions(assignment_id);
CREATE INDEX IF NOT EXISTS submissions_by_student ON submissions(student);
";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

const SUBMISSION_COLUMNS: &str = "s.id, s.assignment_id, s.student, s.file_name, s.status, \
     s.result, s.created_at, a.owner";

fn submission_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Submission, Option<String>)> {
    Ok((
        Submission {
            id: row.get(0)?,
            assignment_id: row.get(1)?,
            student: row.get(2)?,
            file_name: row.get(3)?,
            status: Status::parse(&row.get::<_, String>(4)?),
            result: None,
            created_at: row.get(6)?,
            assignment_owner: row.get(7)?,
        },
        row.get(5)?,
    ))
}

fn with_result((mut s, json): (Submission, Option<String>)) -> Result<Submission, DbError> {
    s.result = json.map(|j| serde_json::from_str(&j)).transpose()?;
    Ok(s)
}

impl Db {
    /// Opens (creating if needed) `DIR/grader.sqlite3`.
    pub fn open(data_dir: &Path) -> Result<Db, DbError> {
        let conn = Connection::open(data_dir.join("grader.sqlite3"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` on the blocking pool (for async callers).
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Db) -> Result<T, DbError> + Send + 'static,
    ) -> Result<T, DbError> {
        let db = self.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| DbError::Task(e.to_string()))?
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll
        // back), so a poisoned mutex is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates or replaces a user.
    pub fn upsert_user(&self, user: &User) -> Result<(), DbError> {
        self.lock().execute(
            "INSERT INTO users (name, role, password_hash) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE SET role = excluded.role,
                                             password_hash = excluded.password_hash",
            params![user.name, user.role.as_str(), user.password_hash],
        )?;
        Ok(())
    }

    pub fn user(&self, name: &str) -> Result<Option<User>, DbError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT name, role, password_hash FROM users WHERE name = ?1",
                [name],
                |r| {
                    Ok(User {
                        name: r.get(0)?,
                        role: Role::parse(&r.get::<_, String>(1)?).unwrap_or(Role::Student),
                        password_hash: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    pub fn create_assignment(
        &self,
        title: &str,
        owner: &str,
        cases: &[Case],
    ) -> Result<i64, DbError> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO assignments (title, owner, cases, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![title, owner, serde_json::to_string(cases)?, now()],
        )?;
        Ok(conn.last_insert_rowid())
    }

    pub fn assignment(&self, id: i64) -> Result<Option<Assignment>, DbError> {
        let row = self
            .lock()
            .query_row(
                "SELECT id, title, owner, cases FROM assignments WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(id, title, owner, cases)| {
            Ok(Assignment {
                id,
                title,
                owner,
                cases: serde_json::from_str(&cases)?,
            })
        })
        .transpose()
    }

    /// Every assignment, newest first (without cases).
    pub fn assignments(&self) -> Result<Vec<Assignment>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT id, title, owner FROM assignments ORDER BY id DESC")?;
        let rows = stmt.query_map([], |r| {
            Ok(Assignment {
                id: r.get(0)?,
                title: r.get(1)?,
                owner: r.get(2)?,
                cases: Vec::new(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records a new submission with status `queued`.
    pub fn create_submission(
        &self,
        assignment_id: i64,
        student: &str,
        file_name: &str,
        source: &str,
    ) -> Result<SubmissionId, DbError> {
        let conn = self.lock();
        let t = now();
        conn.execute(
            "INSERT INTO submissions
                 (assignment_id, student, file_name, source, status, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?5)",
            params![assignment_id, student, file_name, source, t],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Removes a submission whose job could not be published (it was never accepted).
    pub fn delete_submission(&self, id: SubmissionId) -> Result<(), DbError> {
        self.lock()
            .execute("DELETE FROM submissions WHERE id = ?1", [id])?;
        Ok(())
    }

    pub fn submission(&self, id: SubmissionId) -> Result<Option<Submission>, DbError> {
        let row = self
            .lock()
            .query_row(
                &format!(
                    "SELECT {SUBMISSION_COLUMNS} FROM submissions s
                     JOIN assignments a ON a.id = s.assignment_id WHERE s.id = ?1"
                ),
                [id],
                submission_from_row,
            )
            .optional()?;
        row.map(with_result).transpose()
    }

    fn submissions_where(
        &self,
        clause: &str,
        arg: &dyn rusqlite::ToSql,
    ) -> Result<Vec<Submission>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {SUBMISSION_COLUMNS} FROM submissions s
             JOIN assignments a ON a.id = s.assignment_id WHERE {clause} ORDER BY s.id"
        ))?;
        let rows = stmt
            .query_map([arg], submission_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(with_result).collect()
    }

    pub fn submissions_of_assignment(
        &self,
        assignment_id: i64,
    ) -> Result<Vec<Submission>, DbError> {
        self.submissions_where("s.assignment_id = ?1", &assignment_id)
    }

    pub fn submissions_of_student(&self, student: &str) -> Result<Vec<Submission>, DbError> {
        self.submissions_where("s.student = ?1", &student)
    }

    /// `queued -> running`; a graded submission stays graded (a late or duplicate event).
    /// Returns whether the status changed.
    pub fn mark_running(&self, id: SubmissionId) -> Result<bool, DbError> {
        let n = self.lock().execute(
            "UPDATE submissions SET status = 'running', updated_at = ?2
             WHERE id = ?1 AND status = 'queued'",
            params![id, now()],
        )?;
        Ok(n > 0)
    }

    /// Stores the result unless one is already stored (results are delivered at least once).
    /// Returns whether this call recorded it.
    pub fn record_result(&self, id: SubmissionId, result: &GradeResult) -> Result<bool, DbError> {
        let n = self.lock().execute(
            "UPDATE submissions SET status = ?2, result = ?3, updated_at = ?4
             WHERE id = ?1 AND status <> 'graded'",
            params![
                id,
                Status::Graded.as_str(),
                serde_json::to_string(result)?,
                now()
            ],
        )?;
        Ok(n > 0)
    }
}
