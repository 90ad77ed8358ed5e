//! Writing the Prometheus text exposition format (0.0.4).

use std::fmt::{Display, Write};

/// A metrics page being written: families (`# TYPE`, `# HELP`) and their samples.
pub struct Out(pub String);

impl Out {
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
        let _ = writeln!(self.0, "# HELP {name} {help}");
    }

    /// One sample; `labels` is `a="x",b="y"` (escaped) or empty.
    pub fn sample(&mut self, name: &str, labels: &str, v: impl Display) {
        if labels.is_empty() {
            let _ = writeln!(self.0, "{name} {v}");
        } else {
            let _ = writeln!(self.0, "{name}{{{labels}}} {v}");
        }
    }

    /// A family of one sample.
    pub fn one(&mut self, name: &str, kind: &str, help: &str, labels: &str, v: impl Display) {
        self.family(name, kind, help);
        self.sample(name, labels, v);
    }
}

/// Escapes a label value (backslash, quote, newline), as the format requires.
pub fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
