//! The data directory's lock, `<data-dir>/.lock`: an exclusive `flock` that a running
//! `warren server` holds for its whole life, and that the commands which edit the definitions
//! file offline (`user`, `permissions`, `vhost`, `policy`, `definitions import`) hold while
//! they edit it.
//!
//! Without it, an edit made next to a running broker looked successful and then vanished: the
//! broker keeps the definitions in memory and rewrites the file on its next change. RabbitMQ's
//! `rabbitmqctl` talks to the running node instead; Warren's commands refuse, naming the
//! management API call that does the same on a running broker (the CLI knows neither the
//! broker's HTTP address nor an administrator's password). It also keeps a second broker off
//! a data directory in use, which would corrupt the message store.
//!
//! The kernel drops an `flock` when its holder exits, however it exits (kill -9 included), so
//! a stale file never locks anyone out. The holder writes a line naming itself into the file,
//! for the messages of those it turns away.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Held while the value lives.
#[derive(Debug)]
pub struct DataLock {
    _file: File,
}

fn lock_path(data_dir: &Path) -> PathBuf {
    data_dir.join(".lock")
}

/// Takes the lock without waiting; `Ok(Err(holder))` if someone holds it (what they wrote).
fn try_take(data_dir: &Path, me: &str) -> anyhow::Result<Result<DataLock, String>> {
    let path = lock_path(data_dir);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Ok(Err(holder.trim().to_owned()));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
    // Best effort: the name only makes the refusals of others clearer.
    let _ = file.set_len(0).and_then(|()| {
        file.rewind()?;
        writeln!(file, "{me} (pid {})", std::process::id())
    });
    Ok(Ok(DataLock { _file: file }))
}

/// For `warren server`: the data directory (created by the caller) must not be in use.
pub fn for_server(data_dir: &Path) -> anyhow::Result<DataLock> {
    match try_take(data_dir, "warren server")? {
        Ok(lock) => Ok(lock),
        Err(holder) => anyhow::bail!(
            "the data directory {} is in use by {}: two processes must not share it (a second \
             broker would corrupt its message store)",
            data_dir.display(),
            describe(&holder)
        ),
    }
}

/// For a command about to edit the definitions in `data_dir` offline: refused while a broker
/// runs on it. `command` names the command, `api` the management API call to use instead.
/// A data directory that does not exist yet has no broker: no lock is needed (the edit
/// creates the directory).
pub fn for_edit(data_dir: &Path, command: &str, api: &str) -> anyhow::Result<Option<DataLock>> {
    if !data_dir.is_dir() {
        return Ok(None);
    }
    match try_take(data_dir, command)? {
        Ok(lock) => Ok(Some(lock)),
        Err(holder) => anyhow::bail!(
            "the data directory {} is in use by {}, so `{command}` changed nothing: it edits the \
             definitions file, which a running broker does not read and overwrites on its next \
             change. On a running broker use its management API ({api}), or stop the broker \
             and run the command again",
            data_dir.display(),
            describe(&holder)
        ),
    }
}

fn describe(holder: &str) -> String {
    if holder.is_empty() {
        "another warren process".to_owned()
    } else {
        holder.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let server = for_server(dir.path()).unwrap();
        let err = for_server(dir.path()).unwrap_err().to_string();
        assert!(err.contains("in use by warren server (pid "), "{err}");
        let err = for_edit(
            dir.path(),
            "warren policy set",
            "PUT /api/policies/{vhost}/{name}",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("so `warren policy set` changed nothing"),
            "{err}"
        );
        assert!(err.contains("PUT /api/policies/{vhost}/{name}"), "{err}");
        drop(server);
        let edit = for_edit(dir.path(), "warren vhost add", "PUT /api/vhosts/{name}").unwrap();
        assert!(edit.is_some());
        let err = for_server(dir.path()).unwrap_err().to_string();
        assert!(err.contains("in use by warren vhost add (pid "), "{err}");
        drop(edit);
        for_server(dir.path()).unwrap();
        // Nothing to lock in a directory that does not exist yet.
        let missing = dir.path().join("new");
        assert!(for_edit(&missing, "x", "y").unwrap().is_none());
        assert!(!missing.exists());
    }
}
