//! Grading one submission: assemble once, run every case in the MIPS simulator with the
//! worker's limits, compare outputs. Pure and synchronous (CPU-bound): the worker calls it
//! from a blocking task so that it never stalls the async runtime.

use crate::protocol::{CaseResult, GradeResult, Job};

/// Longest program output kept in a result (the simulator's own output cap is larger).
const MAX_KEPT_OUTPUT: usize = 64 << 10;

/// Grades `job`. Never panics: assembly errors become [`GradeResult::error`], runtime errors
/// and the step limit become a failed case with [`CaseResult::error`].
pub fn grade(job: &Job, limits: mips::Limits) -> GradeResult {
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
    let cases: Vec<CaseResult> = job
        .cases
        .iter()
        .map(|case| {
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
        })
        .collect();
    GradeResult {
        passed: cases.iter().filter(|c| c.passed).count() as u32,
        total,
        cases,
        error: None,
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
    use crate::protocol::Case;

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
