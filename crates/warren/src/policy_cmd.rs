//! `warren policy set|clear|list`: policies in the data directory's definitions, as
//! `rabbitmqctl set_policy` / `clear_policy` / `list_policies` do on a RabbitMQ node. Like
//! `warren definitions`, it works on the data directory: `set` and `clear` are refused while a
//! broker runs on it (see `datalock.rs`); a running broker takes policies through its HTTP
//! API, `PUT /api/policies/{vhost}/{name}`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum PolicyAction {
    /// Add or replace a policy. DEFINITION is a JSON object, e.g. '{"max-length": 1000}'.
    Set {
        name: String,
        /// Regular expression matched against queue and/or exchange names.
        pattern: String,
        definition: String,
        /// Virtual host.
        #[arg(long, short = 'p', default_value = "/")]
        vhost: String,
        /// Among matching policies, the highest priority applies.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        priority: i64,
        /// queues, exchanges or all.
        #[arg(long, default_value = "all")]
        apply_to: String,
    },
    /// Remove a policy.
    Clear {
        name: String,
        #[arg(long, short = 'p', default_value = "/")]
        vhost: String,
    },
    /// List the policies (as JSON lines, in RabbitMQ's definitions shape).
    List {
        #[arg(long, short = 'p')]
        vhost: Option<String>,
    },
}

pub fn run(action: PolicyAction, data_dir: PathBuf) -> anyhow::Result<()> {
    let _lock = match &action {
        PolicyAction::Set { .. } => crate::datalock::for_edit(
            &data_dir,
            "warren policy set",
            "PUT /api/policies/{vhost}/{name}",
        )?,
        PolicyAction::Clear { .. } => crate::datalock::for_edit(
            &data_dir,
            "warren policy clear",
            "DELETE /api/policies/{vhost}/{name}",
        )?,
        PolicyAction::List { .. } => None,
    };
    let broker = crate::load_broker(&data_dir, warren_core::Limits::default(), None)?;
    let save = |broker: &warren_core::Broker| -> anyhow::Result<()> {
        std::fs::create_dir_all(&data_dir)?;
        broker
            .export_definitions()
            .save(&crate::definitions_path(&data_dir))?;
        Ok(())
    };
    match action {
        PolicyAction::Set {
            name,
            pattern,
            definition,
            vhost,
            priority,
            apply_to,
        } => {
            let def: serde_json::Value = serde_json::from_str(&definition)
                .with_context(|| format!("the definition is not JSON: {definition}"))?;
            let policy = warren_core::definitions::policy_from_json(&serde_json::json!({
                "vhost": vhost, "name": name, "pattern": pattern, "apply-to": apply_to,
                "priority": priority, "definition": def,
            }))?;
            let Some(v) = broker.vhost(&vhost) else {
                anyhow::bail!("no vhost '{vhost}'");
            };
            v.set_policy(policy);
            save(&broker)?;
            println!(
                "Setting policy \"{name}\" for pattern \"{pattern}\" to \"{definition}\" with \
                 priority \"{priority}\" for vhost \"{vhost}\""
            );
        }
        PolicyAction::Clear { name, vhost } => {
            let Some(v) = broker.vhost(&vhost) else {
                anyhow::bail!("no vhost '{vhost}'");
            };
            if !v.clear_policy(&name) {
                anyhow::bail!("no policy '{name}' in vhost '{vhost}'");
            }
            save(&broker)?;
            println!("Clearing policy \"{name}\" on vhost \"{vhost}\"");
        }
        PolicyAction::List { vhost } => {
            if let Some(want) = &vhost {
                anyhow::ensure!(broker.vhost(want).is_some(), "no vhost '{want}'");
            }
            for v in broker.vhosts() {
                if vhost.as_deref().is_some_and(|want| want != v.name.as_str()) {
                    continue;
                }
                for p in v.policies() {
                    println!("{}", p.to_json());
                }
            }
        }
    }
    Ok(())
}
