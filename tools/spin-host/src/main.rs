//! `spin-host [--listen ADDR] [--manifest spin.toml] [--sqlite-dir .spin] [--var NAME=VALUE]…
//! [--component ID]… [--admin-listen ADDR]`

use anyhow::{Context, Result, bail};
use spin_host::manifest::App;
use spin_host::metrics::Metrics;
use spin_host::runtime::{Options, Runtime};
use spin_host::{server, variables};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

const USAGE: &str = "usage: spin-host [--listen 127.0.0.1:3000] [--manifest spin.toml] \
[--sqlite-dir .spin] [--cache-dir DIR] [--var NAME=VALUE]… [--component ID]… \
[--admin-listen 127.0.0.1:9090]";

struct Flags {
    listen: String,
    manifest: PathBuf,
    sqlite_dir: PathBuf,
    cache_dir: Option<PathBuf>,
    vars: Vec<(String, String)>,
    /// `--component`/`-c`: run only these, as `spin up -c` does.
    components: Vec<String>,
    /// `--admin-listen`: where the host's request metrics are served (`/metrics`).
    admin_listen: Option<String>,
}

fn parse(args: Vec<String>) -> Result<Flags> {
    let mut flags = Flags {
        listen: "127.0.0.1:3000".into(),
        manifest: "spin.toml".into(),
        sqlite_dir: ".spin".into(),
        cache_dir: None,
        vars: Vec::new(),
        components: Vec::new(),
        admin_listen: None,
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let Some(value) = args.next() else {
            bail!("{flag} needs a value\n{USAGE}")
        };
        match flag.as_str() {
            "--listen" => flags.listen = value,
            "--manifest" => flags.manifest = value.into(),
            "--sqlite-dir" => flags.sqlite_dir = value.into(),
            "--cache-dir" => flags.cache_dir = Some(value.into()),
            "--component" | "-c" => flags.components.push(value),
            "--admin-listen" => flags.admin_listen = Some(value),
            "--var" => {
                let Some((name, value)) = value.split_once('=') else {
                    bail!("--var takes NAME=VALUE")
                };
                flags.vars.push((name.to_owned(), value.to_owned()));
            }
            _ => bail!("unknown flag `{flag}`\n{USAGE}"),
        }
    }
    Ok(flags)
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

async fn run(flags: Flags) -> Result<()> {
    let overrides = variables::overrides(std::env::vars(), &flags.vars);
    let app = App::load(&flags.manifest, &overrides)?.select(&flags.components)?;
    let cache_dir = flags
        .cache_dir
        .clone()
        .or_else(|| Some(flags.sqlite_dir.join("wasmtime-cache")));
    let runtime = Runtime::new(
        app,
        &Options {
            sqlite_dir: flags.sqlite_dir.clone(),
            cache_dir,
        },
    )?;
    let listener = tokio::net::TcpListener::bind(&flags.listen)
        .await
        .with_context(|| format!("cannot listen on {}", flags.listen))?;
    eprintln!(
        "spin-host: serving http://{} (app `{}`)",
        listener.local_addr()?,
        runtime.app().name
    );
    let metrics = Arc::new(Metrics::new(&runtime.app().name));
    if let Some(admin) = &flags.admin_listen {
        let admin = tokio::net::TcpListener::bind(admin)
            .await
            .with_context(|| format!("cannot listen on {admin}"))?;
        eprintln!(
            "spin-host: metrics on http://{}/metrics",
            admin.local_addr()?
        );
        tokio::spawn(server::serve_admin(metrics.clone(), admin));
    }
    server::serve(runtime, metrics, listener, shutdown_signal()).await
}

fn main() -> ExitCode {
    let flags = match parse(std::env::args().skip(1).collect()) {
        Ok(flags) => flags,
        Err(e) => {
            eprintln!("spin-host: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("spin-host: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(flags)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spin-host: {e:#}");
            ExitCode::FAILURE
        }
    }
}
