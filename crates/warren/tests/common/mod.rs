//! Runs the real `warren` binary as a child process, for restart and crash tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub struct BrokerProcess {
    pub child: Child,
    pub addr: SocketAddr,
    /// Log lines up to and including the listening line (recovery reports).
    pub startup_log: Vec<String>,
    /// Log lines after the listening line.
    pub log: mpsc::Receiver<String>,
}

impl BrokerProcess {
    /// Starts `warren server` on a free port with `data_dir`, and waits until it listens.
    pub fn start(data_dir: &Path) -> BrokerProcess {
        Self::start_with(data_dir, &[])
    }

    /// As [`start`](Self::start), with extra command-line arguments (e.g. `--config FILE`).
    pub fn start_with(data_dir: &Path, extra: &[&str]) -> BrokerProcess {
        let mut args = vec![
            "--amqp-listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
        ];
        args.extend_from_slice(extra);
        Self::start_cmd(data_dir, &args, &[("NO_COLOR", "1")])
    }

    /// `warren server --data-dir DATA_DIR ARGS` with `envs` (and `WARREN_LOG=info`; the test's
    /// own `NO_COLOR` and `WARREN_LOG_FORMAT` removed), nothing else: the caller chooses the
    /// listeners. Waits for the first "listening on" line.
    pub fn start_cmd(data_dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> BrokerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_warren"))
            .arg("server")
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .env("WARREN_LOG", "info")
            .env_remove("NO_COLOR")
            .env_remove("WARREN_LOG_FORMAT")
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("warren starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        let addr = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| {
                    panic!("warren did not report its address; log so far: {seen:#?}")
                });
            let addr = line
                .split("listening on ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .map(|a| {
                    a.parse::<SocketAddr>()
                        .expect("a socket address in the log")
                });
            seen.push(line);
            if let Some(addr) = addr {
                break addr;
            }
        };
        BrokerProcess {
            child,
            addr,
            startup_log: seen,
            log: rx,
        }
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@{}/%2f", self.addr)
    }

    /// kill -9: no chance to flush anything.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, and wait for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().expect("warren exits")
    }

    /// The start-up log until a line containing `needle` (included), waiting up to 20 s.
    pub fn log_until(&mut self, needle: &str) -> Vec<String> {
        let mut seen = self.startup_log.clone();
        while !seen.iter().any(|l| l.contains(needle)) {
            let line = self
                .log
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("no '{needle}' in the log: {seen:#?}"));
            self.startup_log.push(line.clone());
            seen.push(line);
        }
        seen
    }

    /// [`stop`](Self::stop), and every log line after start-up up to the exit.
    pub fn stop_with_log(mut self) -> Vec<String> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        // The reader thread ends at the end of stderr, dropping the sender.
        let mut log = Vec::new();
        while let Ok(l) = self.log.recv_timeout(Duration::from_secs(10)) {
            log.push(l);
        }
        log
    }

    /// Log lines printed so far (after start-up).
    /// The management API's base URL, from the log ("management HTTP listening on URL").
    pub fn http_base(&self) -> String {
        let mut seen = self.startup_log.clone();
        for _ in 0..400 {
            if let Some(url) = seen.iter().find_map(|l| {
                l.split("management HTTP listening on ")
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                    .map(str::to_string)
            }) {
                return url;
            }
            std::thread::sleep(Duration::from_millis(50));
            seen.extend(self.drain_log());
        }
        panic!("no HTTP address in {seen:#?}");
    }

    pub fn drain_log(&self) -> Vec<String> {
        self.log.try_iter().collect()
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
