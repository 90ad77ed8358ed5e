//! Grading one submission: assemble once, run every case in the MIPS simulator with the
//! worker's limits, compare outputs. Pure and synchronous (CPU-bound): the worker calls it
//! from a blocking task so that it never stalls the async runtime.

use std::time::{Duration, Instant};

use crate::protocol::{Case, CaseResult, GradeResult, Job};

/// Longest program output kept in a result (the simulator's own output cap is larger).
const MAX_KEPT_OUTPUT: usize = 64 << 10;

/// The error of a job that ran past the worker's wall-clock limit.
pub const TIME_LIMIT_EXCEEDED: &str = "time limit exceeded";

/// Grades `job`. Never panics: assembly errors become [`GradeResult::error`], runtime errors
/// and the step limit become a failed case with [`CaseResult::error`].
pub fn grade(job: &Job, limits: mips::Limits) -> GradeResult {
    grade_until(job, limits, None)
}

/// The result of a job stopped by the wall-clock limit: an error, no case counted.
pub fn time_limit_result(job: &Job, limit: Duration) -> GradeResult {
    GradeResult {
        passed: 0,
        total: u32::try_from(job.cases.len()).unwrap_or(u32::MAX),
        cases: Vec::new(),
        error: Some(format!(
            "{TIME_LIMIT_EXCEEDED}: grading took longer than {} ms",
            limit.as_millis()
        )),
    }
}

/// As [`grade`], but gives up once `deadline` (the moment, and the limit it came from) has
/// passed: no further case starts, and the result is [`time_limit_result`]. A case already
/// running is bounded by the step limit, so a job overruns its deadline by one case at most.
pub fn grade_until(
    job: &Job,
    limits: mips::Limits,
    deadline: Option<(Instant, Duration)>,
) -> GradeResult {
    let expired = || deadline.is_some_and(|(at, _)| Instant::now() >= at);
    let timed_out = || time_limit_result(job, deadline.map_or(Duration::ZERO, |(_, d)| d));
    let total = u32::try_from(job.cases.len()).unwrap_or(u32::MAX);
    let program = match mips::assemble(&job.source, &job.file_name) {
        Ok(p) => p,
        Err(errors) => {
            let error = errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n");
            return GradeResult {
                passed: 0,
                total,
                cases: Vec::new(),
                error: Some(error),
            };
        }
    };
    let mut cases: Vec<CaseResult> = Vec::with_capacity(job.cases.len());
    for case in &job.cases {
        if expired() {
            return timed_out();
        }
        cases.push(grade_case(&program, case, limits));
    }
    if expired() {
        return timed_out();
    }
    GradeResult {
        passed: cases.iter().filter(|c| c.passed).count() as u32,
        total,
        cases,
        error: None,
    }
}

/// Runs one case and compares its output.
fn grade_case(program: &mips::Program, case: &Case, limits: mips::Limits) -> CaseResult {
    let outcome = program.run(case.stdin.as_bytes(), limits);
    let actual = truncated(String::from_utf8_lossy(&outcome.stdout).into_owned());
    let (exit_code, error) = match outcome.status {
        mips::ExitStatus::Exited(code) => (Some(code), None),
        _ => (None, Some(outcome.stderr.trim_end().to_owned())),
    };
    let same = actual == case.expected_stdout;
    CaseResult {
        passed: same && error.is_none(),
        stdin: case.stdin.clone(),
        expected_stdout: case.expected_stdout.clone(),
        diff: (!same).then(|| diff(&case.expected_stdout, &actual)),
        actual_stdout: actual,
        error,
        exit_code,
        steps: outcome.steps,
    }
}

/// A unified diff (`-` expected, `+` actual) of two outputs.
fn diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(2)
        .header("expected", "actual")
        .missing_newline_hint(true)
        .to_string()
}

fn truncated(mut s: String) -> String {
    if s.len() > MAX_KEPT_OUTPUT {
        let mut end = MAX_KEPT_OUTPUT;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("\n[output truncated]");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMES10: &str = "main: li $v0, 5\n syscall\n mul $a0, $v0, 10\n li $v0, 1\n syscall\n li $v0, 11\n li $a0, 10\n syscall\n li $v0, 10\n syscall\n";

    fn job(source: &str, cases: &[(&str, &str)]) -> Job {
        Job {
            submission_id: 1,
            file_name: "p.s".into(),
            source: source.into(),
            cases: cases
                .iter()
                .map(|(i, o)| Case {
                    stdin: (*i).into(),
                    expected_stdout: (*o).into(),
                })
                .collect(),
        }
    }

    #[test]
    fn passing_and_failing_cases() {
        let r = grade(
            &job(
                TIMES10,
                &[("4\n", "40\n"), ("-3\n", "-30\n"), ("5\n", "51\n")],
            ),
            mips::Limits::default(),
        );
        assert_eq!((r.passed, r.total), (2, 3));
        assert!(r.cases[0].passed && r.cases[1].passed && !r.cases[2].passed);
        let d = r.cases[2].diff.as_deref().unwrap();
        assert!(d.contains("-51") && d.contains("+50"), "{d}");
        assert_eq!(r.cases[2].exit_code, Some(0));
    }

    #[test]
    fn assembly_errors_name_lines() {
        let r = grade(
            &job("main: li $v0, 10\n syscall\n frob $t0\n", &[("", "")]),
            mips::Limits::default(),
        );
        assert_eq!((r.passed, r.total), (0, 1));
        assert!(r.cases.is_empty());
        assert!(r
            .error
            .unwrap()
            .starts_with("p.s:3: error: unknown instruction"));
    }

    #[test]
    fn wall_clock_limit_stops_the_job() {
        // Each case spins until a large step limit; the deadline passes during the first,
        // and no other case starts.
        let limits = mips::Limits {
            max_steps: 1_000_000,
            ..mips::Limits::default()
        };
        let spin = job("main: j main\n", &[("", ""); 20]);
        let limit = Duration::from_millis(1);
        let started = Instant::now();
        let r = grade_until(&spin, limits, Some((started + limit, limit)));
        let job_time = started.elapsed();
        assert_eq!(r, time_limit_result(&spin, limit));
        assert_eq!(
            r.error.as_deref(),
            Some("time limit exceeded: grading took longer than 1 ms")
        );
        assert_eq!((r.passed, r.total), (0, 20));
        assert!(r.cases.is_empty());
        let one = Instant::now();
        let _ = grade(&job("main: j main\n", &[("", "")]), limits);
        let one_case = one.elapsed();
        assert!(
            job_time < one_case * 10,
            "stopped after one case: {job_time:?} for the job, {one_case:?} for one case"
        );
        // A deadline far away changes nothing.
        let ok = job(TIMES10, &[("4\n", "40\n")]);
        let far = Duration::from_secs(60);
        assert_eq!(
            grade_until(
                &ok,
                mips::Limits::default(),
                Some((Instant::now() + far, far))
            ),
            grade(&ok, mips::Limits::default())
        );
    }

    #[test]
    fn step_limit_fails_the_case() {
        let limits = mips::Limits {
            max_steps: 1000,
            ..mips::Limits::default()
        };
        let r = grade(&job("main: j main\n", &[("", "")]), limits);
        assert_eq!(r.passed, 0);
        assert!(r.cases[0]
            .error
            .as_deref()
            .unwrap()
            .contains("step limit of 1000"));
        // Output matched (both empty) but the run did not finish: not passed, no diff.
        assert!(r.cases[0].diff.is_none());
    }
}
