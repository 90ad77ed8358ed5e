//! The definitions file: durable exchanges, queues, bindings, vhosts, users and policies,
//! saved (atomically, fsynced) before the client hears that a durable change was made.
//!
//! A change that could not be saved is not made: [`Broker::change_durably`] puts memory back
//! when the file cannot be written, and [`Broker::remove_durably`] writes the file without
//! the object before it removes anything (a deleted queue's messages cannot be put back).
//! Either way the client gets an error (541 on AMQP, 500 on HTTP) and a restart finds what the
//! client was told: a declared queue is there, a deleted one is gone, a refused change is not.
//!
//! One lock orders the changes: it is held across the change in memory and the save, so the
//! file is always a state memory was in (lock order: this lock, then the vhost maps).

use std::path::PathBuf;

use parking_lot::{Mutex, MutexGuard};

use crate::broker::Broker;
use crate::definitions::{BindingDef, Definitions};
use crate::error::{AmqpError, Result};

/// Where durable definitions are saved after every change (None: not saved, as in tests
/// and tools that build a broker in memory).
#[derive(Debug, Default)]
pub(crate) struct DefinitionsFile {
    path: Mutex<Option<PathBuf>>,
}

/// What a removal takes out of the definitions file, before it is taken out of memory.
#[derive(Debug, Clone, Copy)]
pub enum Gone<'a> {
    /// A queue and the bindings to it.
    Queue { vhost: &'a str, name: &'a str },
    /// An exchange and the bindings from and to it.
    Exchange { vhost: &'a str, name: &'a str },
    /// One binding.
    Binding(&'a BindingDef),
    /// A vhost and everything in it (also its users' permissions there).
    Vhost(&'a str),
}

impl Gone<'_> {
    fn remove_from(&self, d: &mut Definitions) {
        match *self {
            Gone::Queue { vhost, name } => {
                d.queues.retain(|q| !(q.vhost == vhost && q.name == name));
                d.bindings.retain(|b| {
                    !(b.vhost == vhost && b.destination_type == "queue" && b.destination == name)
                });
            }
            Gone::Exchange { vhost, name } => {
                d.exchanges
                    .retain(|x| !(x.vhost == vhost && x.name == name));
                d.bindings.retain(|b| {
                    !(b.vhost == vhost
                        && (b.source == name
                            || (b.destination_type == "exchange" && b.destination == name)))
                });
            }
            Gone::Binding(gone) => d.bindings.retain(|b| b != gone),
            Gone::Vhost(vhost) => {
                d.vhosts.retain(|v| v.name != vhost);
                d.queues.retain(|q| q.vhost != vhost);
                d.exchanges.retain(|x| x.vhost != vhost);
                d.bindings.retain(|b| b.vhost != vhost);
                d.permissions.retain(|p| p.vhost != vhost);
                d.topic_permissions.retain(|p| p.vhost != vhost);
                let elsewhere = |v: &serde_json::Value| {
                    v.get("vhost").and_then(serde_json::Value::as_str) != Some(vhost)
                };
                d.policies.retain(elsewhere);
                d.parameters.retain(elsewhere);
            }
        }
    }
}

impl BindingDef {
    /// A binding as the definitions file holds it (for [`Gone::Binding`]).
    pub fn new(
        vhost: &str,
        source: &str,
        destination_type: &str,
        destination: &str,
        routing_key: &str,
        arguments: &warren_amqp::FieldTable,
    ) -> BindingDef {
        BindingDef {
            source: source.to_string(),
            vhost: vhost.to_string(),
            destination: destination.to_string(),
            destination_type: destination_type.to_string(),
            routing_key: routing_key.to_string(),
            arguments: crate::definitions::table_to_json(arguments),
        }
    }
}

/// Every refused change logs why, at most once per interval (each client hears it anyway).
fn log_save_error(path: &std::path::Path, e: &crate::DefinitionsError) {
    static SAVE_FAILED: crate::LogLimit = crate::LogLimit::new(crate::durable::LOG_EVERY);
    crate::limited!(
        error,
        SAVE_FAILED,
        "could not save definitions to {}: {e}",
        path.display()
    );
}

/// Writes `d` to the file; a failure is the client's error (541).
fn write_file(d: &Definitions, path: &std::path::Path) -> Result<()> {
    d.save(path).map_err(|e| {
        log_save_error(path, &e);
        not_saved(e)
    })
}

/// The error a client gets for a change that could not be saved.
fn not_saved(e: impl std::fmt::Display) -> AmqpError {
    AmqpError::internal_error(format!(
        "the change could not be saved, so it was not made: {e}"
    ))
}

impl Broker {
    /// Saves definitions to `path` after every change from now on.
    pub fn persist_definitions_to(&self, path: PathBuf) {
        *self.definitions_file.path.lock() = Some(path);
    }

    fn definitions_lock(&self) -> MutexGuard<'_, Option<PathBuf>> {
        self.definitions_file.path.lock()
    }

    fn save_locked(&self, path: &std::path::Path) -> Result<()> {
        write_file(&self.export_definitions(), path)
    }

    /// Makes a durable change and saves it before returning. `apply` makes it in memory and
    /// says whether it changed anything the file holds (a redeclare does not); if the file
    /// then cannot be written, `undo` puts memory back as it was and the error (541,
    /// INTERNAL_ERROR) says the change was not made.
    ///
    /// `undo` runs under the definitions lock: it must not make durable changes itself.
    pub fn change_durably<T, E: From<AmqpError>>(
        &self,
        apply: impl FnOnce() -> std::result::Result<(T, bool), E>,
        undo: impl FnOnce(&T),
    ) -> std::result::Result<T, E> {
        let file = self.definitions_lock();
        let (value, changed) = apply()?;
        if let (true, Some(path)) = (changed, file.as_ref()) {
            if let Err(e) = self.save_locked(path) {
                undo(&value);
                return Err(e.into());
            }
        }
        Ok(value)
    }

    /// Removes something durable: first the file without it, then memory (`apply`), so a
    /// removal the file does not record is not made (541). If `apply` refuses (if-unused,
    /// if-empty...) the file is written back as memory still is.
    pub fn remove_durably<T, E: From<AmqpError>>(
        &self,
        gone: Gone<'_>,
        apply: impl FnOnce() -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let file = self.definitions_lock();
        let Some(path) = file.as_ref() else {
            return apply();
        };
        let before = self.export_definitions();
        let mut without = before.clone();
        gone.remove_from(&mut without);
        let saved = without != before;
        if saved {
            write_file(&without, path)?;
        }
        match apply() {
            Ok(v) => {
                // What went with it (an auto-delete exchange that lost its last binding...)
                // is not in the file yet: best effort, a later change saves it too.
                if saved && self.export_definitions() != without {
                    let _ = self.save_locked(path);
                }
                Ok(v)
            }
            Err(e) => {
                if saved {
                    let _ = self.save_locked(path);
                }
                Err(e)
            }
        }
    }

    /// Changes users, permissions or runtime parameters (`f`) and saves them: if the file
    /// cannot be written, both are put back as they were (copies taken before `f`) and the
    /// error (541; HTTP 500) says the change was not made.
    pub fn change_settings_durably<T, E: From<AmqpError>>(
        &self,
        f: impl FnOnce() -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        self.change_durably(
            || {
                let before = (self.auth().snapshot(), self.parameters().snapshot());
                Ok(((f()?, before), true))
            },
            |(_, (auth, parameters))| {
                self.auth().restore(auth);
                self.parameters().restore(parameters);
                for v in self.vhosts() {
                    self.apply_vhost_limits(&v);
                }
            },
        )
        .map(|(v, _)| v)
    }

    /// Something durable changed without a client waiting on it (an `x-expires` queue
    /// expired, an auto-delete queue lost its last consumer, a tool edited definitions):
    /// save the file; a failure is logged and the next change saves again.
    pub fn definitions_changed(&self) {
        let _ = self.save_definitions();
    }

    /// Saves the definitions file now (an import, a tool's edit); the error says why not.
    pub fn save_definitions(&self) -> Result<()> {
        let file = self.definitions_lock();
        match file.as_ref() {
            Some(path) => self.save_locked(path),
            None => Ok(()),
        }
    }
}
