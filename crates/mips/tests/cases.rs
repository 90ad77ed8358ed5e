//! Runs every case of `tests/cases/` and of the shared samples (`../../../shared/mips`)
//! and compares with the SPIM 8.0 reference: standard output byte for byte, and the way
//! the run ended (`NAME.meta`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mips::{ExitStatus, Limits};

fn meta(path: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn programs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "s"))
        .filter(|p| p.with_extension("out").exists() && p.with_extension("meta").exists())
        .collect();
    v.sort();
    v
}

/// Checks one case; returns a description of the mismatch, if any.
fn check(path: &Path) -> Result<(), String> {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let source = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let input = std::fs::read(path.with_extension("in")).unwrap_or_default();
    let expected = std::fs::read(path.with_extension("out")).map_err(|e| e.to_string())?;
    let meta = meta(&path.with_extension("meta"));
    let program = mips::assemble(&source, &name).map_err(|errs| {
        let msgs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        format!("assembly failed:\n{}", msgs.join("\n"))
    })?;
    let step_limit = meta.get("status").map(String::as_str) == Some("step_limit");
    let limits = Limits {
        max_steps: if step_limit { 200_000 } else { 10_000_000 },
        ..Limits::default()
    };
    let out = program.run(&input, limits);
    if out.stdout != expected {
        return Err(format!(
            "stdout differs\n--- expected\n{}\n--- got\n{}\n--- stderr: {}",
            String::from_utf8_lossy(&expected),
            String::from_utf8_lossy(&out.stdout),
            out.stderr
        ));
    }
    let want = |k: &str| meta.get(k).cloned().unwrap_or_default();
    match (want("status").as_str(), &out.status) {
        ("exited", ExitStatus::Exited(_)) => {
            let code: i32 = want("exit_code").parse().map_err(|_| "bad exit_code")?;
            if out.process_exit_code() != code {
                return Err(format!(
                    "exit code {} instead of {code}",
                    out.process_exit_code()
                ));
            }
        }
        ("runtime_error", ExitStatus::RuntimeError { line, pc, message }) => {
            let fault_line: u32 = want("fault_line").parse().map_err(|_| "bad fault_line")?;
            if *line != fault_line {
                return Err(format!(
                    "fault at line {line} instead of {fault_line}: {message}"
                ));
            }
            // SPIM reports a bad jump at the target address; we report the jump itself.
            if let (Some(fpc), false) = (meta.get("fault_pc"), want("exception") == "6") {
                let fpc = u32::from_str_radix(fpc.trim_start_matches("0x"), 16)
                    .map_err(|_| "bad fault_pc")?;
                if *pc != fpc {
                    return Err(format!("fault at pc 0x{pc:08x} instead of 0x{fpc:08x}"));
                }
            }
            let prefix = format!("{name}:{fault_line}: runtime error: ");
            if !out.stderr.starts_with(&prefix) {
                return Err(format!("stderr {:?} lacks {prefix:?}", out.stderr));
            }
        }
        ("step_limit", ExitStatus::StepLimit { line, .. }) => {
            if let Some(l) = meta.get("loop_line").and_then(|l| l.parse::<u32>().ok()) {
                // The limit may stop any instruction of the loop; it must be near the marker.
                if line.abs_diff(l) > 2 {
                    return Err(format!("step limit at line {line}, loop is at {l}"));
                }
            }
            if !out
                .stderr
                .contains("step limit of 200000 instructions reached")
            {
                return Err(format!("bad stderr {:?}", out.stderr));
            }
        }
        (status, got) => return Err(format!("expected {status}, got {got:?}")),
    }
    Ok(())
}

fn run_dir(dir: &Path) -> usize {
    let cases = programs(dir);
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(e) = check(case) {
            failures.push(format!("{}: {e}", case.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
    cases.len()
}

#[test]
fn own_cases_match_spim() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let n = run_dir(&dir);
    assert!(n >= 60, "only {n} cases found in {}", dir.display());
}

#[test]
fn shared_cases_match_spim() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/mips");
    if !dir.is_dir() {
        eprintln!("note: {} is missing; shared cases skipped", dir.display());
        return;
    }
    let n = run_dir(&dir);
    assert!(n >= 3, "only {n} shared cases found");
}
