//! The read model on the store the clusters give it: real Spin with its `default` key-value
//! store on a real Redis, configured as `k8s/database/kv.yaml` runs it, and on a stand-in for
//! a Redis that accepts connections and never answers (a hung server, or one behind a link
//! that drops packets).

use host_harness::{Host, HostBuilder, Redis, Runtime, scratch_dir, token};
use std::io::Read;
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

/// Real Spin whose `default` key-value store is the Redis at URL, ready once PATH answers, on
/// a ledger already migrated (so that no request has a migration to announce).
fn spin_on_redis(label: &str, url: &str, ready_path: &str) -> Host {
    let config = scratch_dir(label).join("runtime-config.toml");
    let toml = format!("[key_value_store.default]\ntype = \"redis\"\nurl = \"{url}\"\n");
    std::fs::write(&config, toml).unwrap();
    let state = scratch_dir(&format!("{label}-state"));
    let db = native_db::SqliteExecutor::open(state.join("sqlite_db.db")).unwrap();
    ledger::migrations::migrate(&db, ledger::Timestamp::from_micros(1)).unwrap();
    HostBuilder::on(Runtime::Spin, label)
        .sqlite_dir(state)
        .spin_arg("--runtime-config-file")
        .spin_arg(config.to_str().unwrap())
        .ready_path(ready_path)
        .start()
}

fn versions(host: &Host) -> Vec<String> {
    host.get("/api/releases?limit=20").json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap().to_owned())
        .collect()
}

/// Redis evicts keys when full (`allkeys-lru`, as kv.yaml runs it), the generation among them.
/// Then no answer kept before may be served: here the generation is deleted between a write
/// and the next read, which must see the write.
#[test]
fn a_generation_lost_from_redis_invalidates_every_kept_answer() {
    let redis = Redis::start();
    let host = spin_on_redis("evicted-generation", &redis.url, "/api/ready");
    let kestra = token("kestra", &["deployer"]);
    let cli = |args: &[&str]| {
        let port = redis.url.rsplit(':').next().unwrap();
        let out = Command::new("redis-cli")
            .args(["-p", port, "-a", "read-model", "--no-auth-warning"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    cli(&["FLUSHALL"]);
    host.create_release(&kestra, "1.0.0")
        .assert_is(201, "application/json");
    assert_eq!(versions(&host), ["1.0.0"]);
    host.create_release(&kestra, "1.1.0")
        .assert_is(201, "application/json");
    assert_eq!(cli(&["DEL", "ledger:generation"]).trim(), "1");
    assert_eq!(versions(&host), ["1.1.0", "1.0.0"]);
    assert!(
        !cli(&["GET", "ledger:generation"]).trim().is_empty(),
        "the read set a fresh generation"
    );
}

/// What Spin 3.6.3's Redis store does when Redis never answers: it waits, without a time-out
/// (its client sets none, and its runtime config takes only `url`), so the guest cannot bound
/// the call. The backend makes that visible where Kubernetes looks: `/api/ready` reads the
/// store, and waits too, so the pod leaves its Service; `/api/health`, which touches nothing,
/// still answers, so the pod is not restarted over a fault that is not its own.
#[test]
fn a_store_that_never_answers_holds_readiness_not_liveness() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", silent.local_addr().unwrap());
    // Accepts every connection and never answers, for as long as the test runs.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().map_while(Result::ok) {
            held.push(stream);
        }
    });
    let host = spin_on_redis("silent-redis", &url, "/api/health");
    let unanswered = |path: &str| {
        let address = host.base.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        use std::io::Write;
        write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut first = [0u8; 1];
        stream.read(&mut first).is_err()
    };
    assert!(
        unanswered("/api/ready"),
        "readiness answered without the store"
    );
    assert!(
        unanswered("/api/clusters"),
        "a read answered without the store"
    );
    assert_eq!(host.get("/api/health").status, 200);
}
