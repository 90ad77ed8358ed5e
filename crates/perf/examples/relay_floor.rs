//! The latency floor of this machine for a broker-shaped path, whatever the broker does.
//!
//! A producer sends 16-byte timestamped records at a fixed rate over loopback TCP to a relay,
//! which forwards each record as it arrives to a consumer; the consumer records the time from
//! send to receipt. The relay does nothing but read and write (no parsing, no queue), on a
//! 2-worker tokio runtime like the broker's, and the two ends share a 2-worker runtime like
//! `warren perf`'s. No broker can deliver faster than this relay on the same machine, so its
//! percentiles bound what S5 (fixed 1,000 msg/s) can show.
//!
//!     cargo run --release -p warren-perf --example relay_floor -- [RATE] [SECONDS]

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let rate: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000.0);
    let secs: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(8.0);

    let relay_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = relay_rt.block_on(TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    relay_rt.spawn(async move {
        let (mut from, _) = listener.accept().await?;
        let (mut to, _) = listener.accept().await?;
        from.set_nodelay(true)?;
        to.set_nodelay(true)?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = from.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(());
            }
            to.write_all(&buf[..n]).await?;
        }
    });

    let load_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let lat = load_rt.block_on(async move {
        let base = Instant::now();
        let mut tx = TcpStream::connect(addr).await?;
        tx.set_nodelay(true)?;
        // the relay takes the first connection as the producer's
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut rx = TcpStream::connect(addr).await?;
        rx.set_nodelay(true)?;
        let consumer = tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut rec = [0u8; 16];
            while rx.read_exact(&mut rec).await.is_ok() {
                let sent = u64::from_le_bytes(rec[..8].try_into().expect("8 bytes"));
                let now = base.elapsed().as_nanos() as u64;
                lat.push(now.saturating_sub(sent));
            }
            lat
        });
        let start = tokio::time::Instant::now();
        let n = (rate * secs) as u64;
        for i in 0..n {
            tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate)).await;
            let mut rec = [0u8; 16];
            rec[..8].copy_from_slice(&(base.elapsed().as_nanos() as u64).to_le_bytes());
            tx.write_all(&rec).await?;
        }
        drop(tx);
        Ok::<_, std::io::Error>(consumer.await.expect("consumer"))
    })?;

    let mut lat = lat;
    lat.sort_unstable();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)] as f64 / 1000.0;
    println!(
        "relay floor at {rate} msg/s for {secs} s: {} records, latency us min {:.0} p50 {:.0} p99 {:.0} p99.9 {:.0} max {:.0}",
        lat.len(),
        pct(0.0),
        pct(0.5),
        pct(0.99),
        pct(0.999),
        pct(1.0)
    );
    Ok(())
}
