//! `lafs bench storage`: the HTTPS storage protocol on loopback, per
//! backend (disk, memory, null) — immutable share-write MB/s (one PATCH per
//! share, as the 1.20 client sends them) and small ranged reads per second.
//! Server and client run in this process on a multi-threaded runtime.

use std::time::Instant;

use anyhow::{Context, Result};
use bytes::Bytes;
use lafs_format::keys::{LeaseCancelSecret, LeaseRenewSecret, ServerId20, StorageIndex};
use lafs_http::auth::{Secrets, Swissnum};
use lafs_http::client::StorageClient;
use lafs_http::server::{serve, HttpStorage};
use lafs_http::tls::Identity;
use lafs_http::wire::AllocateRequest;
use lafs_http::{Namespace, Nurl};
use lafs_storage::{StorageServer, StorageServerOptions};

/// Benchmarks.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// HTTPS storage protocol throughput per backend.
    Storage {
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// MiB written per backend.
        #[arg(long, default_value_t = 256)]
        write_mib: u64,
        /// Size of each share (one PATCH), MiB.
        #[arg(long, default_value_t = 8)]
        share_mib: u64,
        /// Small reads per backend.
        #[arg(long, default_value_t = 20_000)]
        reads: u64,
        /// Concurrent connections.
        #[arg(long, default_value_t = 8)]
        connections: u64,
    },
}

struct Figures {
    backend: &'static str,
    write_mb_s: f64,
    reads_per_s: f64,
}

/// Run a benchmark.
pub fn run(cmd: BenchCommand) -> Result<()> {
    let BenchCommand::Storage {
        json,
        write_mib,
        share_mib,
        reads,
        connections,
    } = cmd;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let tmp = std::env::temp_dir().join(format!("lafs-bench-{}", std::process::id()));
    let result = rt.block_on(async {
        let mut out = Vec::new();
        for backend in ["disk", "memory", "null"] {
            let opts = StorageServerOptions::new(ServerId20([1; 20]));
            let engine = match backend {
                "disk" => StorageServer::open_disk(&tmp, opts).await?,
                "memory" => StorageServer::in_memory(opts),
                _ => StorageServer::null(opts),
            };
            out.push(bench_one(backend, engine, write_mib, share_mib, reads, connections).await?);
        }
        anyhow::Ok(out)
    });
    let _ = std::fs::remove_dir_all(&tmp);
    let figures = result?;
    if json {
        let v: serde_json::Map<String, serde_json::Value> = figures
            .iter()
            .map(|f| {
                (
                    f.backend.to_string(),
                    serde_json::json!({
                        "immutable_write_MB_per_s": (f.write_mb_s * 10.0).round() / 10.0,
                        "small_reads_per_s": f.reads_per_s.round(),
                    }),
                )
            })
            .collect();
        println!("{}", serde_json::Value::Object(v));
    } else {
        println!(
            "{:<8} {:>22} {:>22}",
            "backend", "immutable write MB/s", "1 KiB reads/s"
        );
        for f in &figures {
            println!(
                "{:<8} {:>22.1} {:>22.0}",
                f.backend, f.write_mb_s, f.reads_per_s
            );
        }
    }
    Ok(())
}

async fn bench_one(
    backend: &'static str,
    engine: StorageServer,
    write_mib: u64,
    share_mib: u64,
    reads: u64,
    connections: u64,
) -> Result<Figures> {
    let id = Identity::generate("127.0.0.1")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let swiss = "benchbenchbenchbenchbenchbench22".to_string();
    let storage = HttpStorage::new(engine, Swissnum::new(swiss.clone()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, id.server_config()?, storage, async {
        let _ = stopped.await;
    }));
    let client = StorageClient::new(Nurl {
        spki_hash: id.spki_hash()?,
        host: "127.0.0.1".into(),
        port,
        swissnum: swiss,
    })?;
    let share_len = share_mib.max(1) << 20;
    let nshares = (write_mib.max(1) << 20).div_ceil(share_len);
    let data = Bytes::from(vec![0x5au8; share_len as usize]);
    let secrets = |i: u64| Secrets {
        renew: Some(LeaseRenewSecret::from_bytes([1; 32])),
        cancel: Some(LeaseCancelSecret::from_bytes([2; 32])),
        upload: Some(i.to_be_bytes().to_vec()),
        write_enabler: None,
    };
    let si_for = |i: u64| {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&i.to_be_bytes());
        StorageIndex(b)
    };

    // Writes: `connections` workers, each allocating and writing whole shares.
    let conns = connections.max(1);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..conns {
        let client = client.clone();
        let data = data.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = client.connect().await?;
            let mut i = w;
            while i < nshares {
                let si = si_for(i);
                let s = secrets(i);
                c.allocate(&si, &s, &AllocateRequest::new([0].into(), share_len)?)
                    .await?;
                let up = Secrets {
                    upload: s.upload.clone(),
                    ..Secrets::default()
                };
                c.write_share(&si, 0, &up, 0, data.clone()).await?;
                i += conns;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await.context("writer task")??;
    }
    let write_secs = start.elapsed().as_secs_f64();
    let write_mb_s = (nshares * share_len) as f64 / 1e6 / write_secs;

    // Small reads: 1 KiB ranged GETs over share 0 of the first SI.
    let start = Instant::now();
    let per = reads.div_ceil(conns);
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = client.connect().await?;
            let si = si_for(0);
            for j in 0..per {
                let off = (j * 4096) % (share_len - 1024);
                c.read_share(Namespace::Immutable, &si, 0, off, 1024)
                    .await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await.context("reader task")??;
    }
    let reads_per_s = (per * conns) as f64 / start.elapsed().as_secs_f64();
    let _ = stop.send(());
    let _ = server.await;
    Ok(Figures {
        backend,
        write_mb_s,
        reads_per_s,
    })
}
