// Tokio peers of weft's sync-primitive workloads (bench/mutex_contended.cpp,
// bench/channel_mpmc.cpp). Built by scripts/bench-peers.sh as a separate
// cargo package in the peer-harness copy (same tokio 1.24 from Debian's
// vendored registry, same release profile as the harness's tokio_bench).
// Usage: tokio_sync <workload> [size]
//   mutex_contended [pairs per task, default 1,000,000]  (4 tasks)
//   channel_mpmc    [messages, default 4,000,000]        (4 producers, 4 consumers)
// Multi-thread runtime with 2 worker threads, body in a spawned task, one
// timed iteration per process; the timed region excludes runtime construction.
// Prints one line: RESULT tokio.<workload> k=v ...
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, Mutex};

const WORKERS: usize = 2;
const TASKS: u64 = 4;
const PRODUCERS: u64 = 4;
const CONSUMERS: u64 = 4;
const CAPACITY: usize = 1024;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .build()
        .expect("tokio runtime")
}

/// Runs `f` as a spawned task on a worker thread (as the harness does).
fn run_on_worker<F, T>(rt: &tokio::runtime::Runtime, f: F) -> T
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    rt.block_on(async move { tokio::spawn(f).await.expect("bench task") })
}

// mutex_contended: TASKS tasks each lock/unlock one tokio::sync::Mutex
// `pairs` times, incrementing the shared counter it guards.
async fn mutex_contended(pairs: u64) -> String {
    let m = Arc::new(Mutex::new(0u64));
    let mut hs = Vec::with_capacity(TASKS as usize);
    let t0 = Instant::now();
    for _ in 0..TASKS {
        let m = m.clone();
        hs.push(tokio::spawn(async move {
            for _ in 0..pairs {
                *m.lock().await += 1;
            }
        }));
    }
    for h in hs {
        h.await.unwrap();
    }
    let dt = t0.elapsed().as_secs_f64();
    let total = TASKS * pairs;
    let counter = *m.lock().await;
    assert_eq!(counter, total, "mutex_contended: lost updates");
    format!(
        "tasks={} pairs={} time_ms={:.3} ops_per_s={:.0} variant=tokio_sync_mutex",
        TASKS,
        total,
        dt * 1e3,
        total as f64 / dt
    )
}

// channel_mpmc: tokio 1.24 has no async MPMC channel and Debian's registry
// offers no async one (no async-channel/flume/kanal; crossbeam-channel is
// blocking), so this is a bounded tokio::sync::mpsc::channel(1024) whose
// single Receiver sits behind a tokio::sync::Mutex shared by the consumers
// (a consumer holds the lock while it awaits recv). Reported as
// variant=mpsc_shared_rx_mutex.
async fn channel_mpmc(messages: u64) -> String {
    let per = messages / PRODUCERS;
    let messages = per * PRODUCERS;
    let (tx, rx) = mpsc::channel::<u64>(CAPACITY);
    let rx = Arc::new(Mutex::new(rx));
    let mut cs = Vec::with_capacity(CONSUMERS as usize);
    let mut ps = Vec::with_capacity(PRODUCERS as usize);
    let t0 = Instant::now();
    for _ in 0..CONSUMERS {
        let rx = rx.clone();
        cs.push(tokio::spawn(async move {
            let mut sum = 0u64;
            loop {
                let v = rx.lock().await.recv().await;
                match v {
                    Some(v) => sum += v,
                    None => break,
                }
            }
            sum
        }));
    }
    for p in 0..PRODUCERS {
        let tx = tx.clone();
        ps.push(tokio::spawn(async move {
            for i in p * per..(p + 1) * per {
                tx.send(i).await.unwrap();
            }
        }));
    }
    drop(tx); // the channel closes when the last producer's Sender drops
    for p in ps {
        p.await.unwrap();
    }
    let mut sum = 0u64;
    for c in cs {
        sum += c.await.unwrap();
    }
    let dt = t0.elapsed().as_secs_f64();
    assert_eq!(sum, messages * (messages - 1) / 2, "channel_mpmc: bad sum");
    format!(
        "producers={} consumers={} messages={} time_ms={:.3} msgs_per_s={:.0} variant=mpsc_shared_rx_mutex",
        PRODUCERS,
        CONSUMERS,
        messages,
        dt * 1e3,
        messages as f64 / dt
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let wl = args.get(1).map(String::as_str).unwrap_or("mutex_contended");
    let size: Option<u64> = args.get(2).and_then(|s| s.parse().ok()).filter(|&n| n > 0);
    let rt = runtime();
    let line = match wl {
        "mutex_contended" => run_on_worker(&rt, mutex_contended(size.unwrap_or(1_000_000))),
        "channel_mpmc" => run_on_worker(&rt, channel_mpmc(size.unwrap_or(4_000_000))),
        other => {
            eprintln!("unknown workload {other} (mutex_contended | channel_mpmc)");
            std::process::exit(2);
        }
    };
    println!("RESULT tokio.{} {}", wl, line);
}
