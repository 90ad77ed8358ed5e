//! `warren recover-messages`: the recovery path for a lost or damaged journal. The message
//! store keeps the segment files nothing references once an open found damage (see
//! `damage-report.txt` and the store's invariants); this command reads their records back by
//! scanning them (as RabbitMQ rebuilds its message store index from its files) and publishes
//! each message again, broker stopped:
//!
//! - by default through its own exchange and routing key in `--vhost` (the records do not say
//!   which queues held them: the journal did), so it reaches the queues bound now;
//! - with `--queue`, straight into that queue (its original exchange and routing key are lost).
//!
//! At least once: a record of a message that had been acked before the damage comes back too.
//! A segment file whose records were all stored again is deleted; once every kept file is, the
//! damage report is renamed (`damage-report-recovered-SECONDS.txt`), so that later starts
//! delete unreferenced segments again.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

use crate::config::{FileConfig, Settings};
use crate::datalock;

pub fn run(
    data_dir: Option<PathBuf>,
    config: Option<PathBuf>,
    vhost: String,
    queue: Option<String>,
) -> anyhow::Result<()> {
    let file = match &config {
        Some(p) => FileConfig::load(p)?,
        None => FileConfig::default(),
    };
    let settings = Settings::resolve(None, None, data_dir, file)?;
    let data_dir = settings.data_dir.clone();
    anyhow::ensure!(
        data_dir.is_dir(),
        "no data directory {}",
        data_dir.display()
    );
    let _lock = datalock::for_server(&data_dir)?;
    let messages_dir = data_dir.join("messages");
    let (store, recovered) = warren_store::Store::open(&messages_dir, settings.store.clone())
        .with_context(|| format!("opening the message store in {}", messages_dir.display()))?;
    crate::refuse_without_definitions(&data_dir, &recovered)?;
    let kept = recovered.kept_segments.clone();
    let report = messages_dir.join("damage-report.txt");
    if kept.is_empty() {
        println!(
            "no segment files are kept for recovery{}",
            if report.exists() {
                " (the damage report lists what was found)"
            } else {
                ": no damage was found"
            }
        );
        return Ok(());
    }
    let durability = warren_core::Durability::start(store);
    let broker = Arc::new(crate::load_broker(
        &data_dir,
        settings.limits.clone(),
        Some(durability.clone()),
    )?);
    broker.recover_messages(&recovered);
    let v = broker
        .vhost(&vhost)
        .with_context(|| format!("no vhost '{vhost}'"))?;
    let default_exchange = v.exchange("").context("the default exchange")?;
    if let Some(q) = &queue {
        let target = v
            .queue(q, 0)
            .map_err(|_| anyhow::anyhow!("no queue '{q}' in vhost '{vhost}'"))?;
        anyhow::ensure!(
            target.store_id().is_some(),
            "queue '{q}' is not durable: messages published to it would not be stored"
        );
    }

    let (mut stored, mut unroutable, mut undecodable) = (0usize, 0usize, 0usize);
    let mut done = Vec::new();
    for &n in &kept {
        let scan = durability.store.scan_segment(n)?;
        let mut whole = scan.damaged_bytes == 0;
        for (_, record) in scan.records {
            let Some(message) = warren_core::durable::decode_message(record) else {
                undecodable += 1;
                whole = false;
                continue;
            };
            let reached = match &queue {
                Some(q) => {
                    let route = warren_amqp::Route::new("", q)
                        .map_err(|e| anyhow::anyhow!("queue name '{q}': {e}"))?;
                    let m = warren_core::Message::new(route, message.properties, message.body);
                    v.publish_internal(&default_exchange, m, |_| false)
                }
                None => match v.exchange(message.exchange()) {
                    Ok(ex) => v.publish_internal(&ex, message, |_| false),
                    Err(_) => 0,
                },
            };
            if reached == 0 {
                unroutable += 1;
                whole = false;
            } else {
                stored += 1;
            }
        }
        println!(
            "{n:08}.seg: {} damaged bytes skipped{}",
            scan.damaged_bytes,
            if whole { "" } else { "; file kept" }
        );
        if whole {
            done.push(n);
        }
    }
    // Everything published is on disk before a file it came from goes.
    durability.flush();
    let mut removed = 0usize;
    for &n in &done {
        if durability.store.remove_unreferenced_segment(n)? {
            removed += 1;
        }
    }
    durability.flush();
    println!(
        "recovered {stored} messages from {} segment files ({unroutable} reached no queue, \
         {undecodable} could not be decoded); {removed} files deleted",
        kept.len()
    );
    if removed == kept.len() && report.exists() {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let to = messages_dir.join(format!("damage-report-recovered-{secs}.txt"));
        std::fs::rename(&report, &to).with_context(|| format!("renaming {}", report.display()))?;
        println!("damage report moved to {}", to.display());
    }
    Ok(())
}
