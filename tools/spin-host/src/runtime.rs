//! The engine and the app's components: compiled once at start-up, pre-instantiated, then
//! instantiated afresh for every request (as Spin does) from wasmtime's pooling allocator.

use crate::manifest::{App, ComponentConfig};
use crate::outbound;
use crate::pools::KeyValueFile;
use crate::pools::SqlitePool;
use crate::spin_apis::SpinHost;
use crate::state::{Services, State};
use crate::traces::{CLIENT, Exporter, SERVER, Span};
use anyhow::{Context, Result, anyhow};
use bytes::Bytes;
use http_body_util::BodyExt;
use spin_edge::TraceParent;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, Weak};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpHooks, WasiHttpView};

/// How many instances may run at once; requests beyond it wait for a slot.
pub const MAX_INSTANCES: u32 = 128;
/// How long a request waits for a slot before it is answered 503 (`Busy`): when every slot is
/// taken, new requests are refused quickly instead of piling up behind them.
pub const SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Every instance slot stayed taken for [`SLOT_WAIT`].
#[derive(Debug)]
pub struct Busy;

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "all {MAX_INSTANCES} instance slots stayed busy for {SLOT_WAIT:?}"
        )
    }
}

impl std::error::Error for Busy {}
/// Linear memory an instance may grow to.
const MAX_MEMORY_BYTES: usize = 256 << 20;

pub struct Options {
    pub sqlite_dir: PathBuf,
    pub cache_dir: Option<PathBuf>,
}

pub struct Runtime {
    app: App,
    components: HashMap<String, Loaded>,
    services: Arc<Services>,
    slots: Arc<tokio::sync::Semaphore>,
    me: Weak<Runtime>,
}

struct Loaded {
    config: Arc<ComponentConfig>,
    pre: ProxyPre<State>,
}

/// Adds context to wasmtime's own error type.
fn context<T>(result: wasmtime::Result<T>, what: impl FnOnce() -> String) -> Result<T> {
    result.map_err(|e| anyhow::Error::from(e).context(what()))
}

fn engine(options: &Options) -> Result<Engine> {
    let mut pooling = PoolingAllocationConfig::default();
    pooling
        .total_component_instances(MAX_INSTANCES)
        .total_core_instances(MAX_INSTANCES * 8)
        .total_memories(MAX_INSTANCES * 2)
        .total_tables(MAX_INSTANCES * 8)
        .total_stacks(MAX_INSTANCES)
        .max_memory_size(MAX_MEMORY_BYTES);
    let mut config = Config::new();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    if let Some(dir) = &options.cache_dir {
        let mut cache = wasmtime::CacheConfig::new();
        cache.with_directory(
            std::path::absolute(dir)
                .with_context(|| format!("cache directory {}", dir.display()))?,
        );
        config.cache(Some(context(wasmtime::Cache::new(cache), || {
            "wasmtime cache".into()
        })?));
    }
    context(Engine::new(&config), || "wasmtime engine".into())
}

/// Spin loads only binary components; wasmtime would also compile the text format, so a
/// `.wat` source that works here would fail under `spin up`.
fn refuse_text_format(id: &str, source: &std::path::Path) -> Result<()> {
    let mut magic = [0u8; 4];
    std::fs::File::open(source)
        .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut magic))
        .with_context(|| format!("component `{id}`: cannot read {}", source.display()))?;
    if &magic != b"\0asm" {
        anyhow::bail!(
            "component `{id}`: {} is not a Wasm binary (Spin does not load the text format)",
            source.display()
        );
    }
    Ok(())
}

impl Runtime {
    /// Compiles and pre-instantiates every component. A component that imports something this
    /// host does not provide fails here, with the import's name.
    pub fn new(app: App, options: &Options) -> Result<Arc<Self>> {
        let engine = engine(options)?;
        let mut linker: Linker<State> = Linker::new(&engine);
        context(wasmtime_wasi::p2::add_to_linker_async(&mut linker), || {
            "WASI".into()
        })?;
        context(
            wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker),
            || "wasi:http".into(),
        )?;
        context(
            SpinHost::add_to_linker::<State, HasSelf<State>>(&mut linker, |state| state),
            || "Spin APIs".into(),
        )?;

        let mut components = HashMap::new();
        for (id, config) in &app.components {
            refuse_text_format(id, &config.source)?;
            let component = context(Component::from_file(&engine, &config.source), || {
                format!("component `{id}`: cannot load {}", config.source.display())
            })?;
            let instance_pre = context(linker.instantiate_pre(&component), || {
                format!("component `{id}` needs an interface spin-host does not provide")
            })?;
            let pre = context(ProxyPre::new(instance_pre), || {
                format!("component `{id}` does not export wasi:http/incoming-handler")
            })?;
            components.insert(
                id.clone(),
                Loaded {
                    config: Arc::new(config.clone()),
                    pre,
                },
            );
        }
        std::fs::create_dir_all(&options.sqlite_dir)
            .with_context(|| format!("cannot create {}", options.sqlite_dir.display()))?;
        let services = Arc::new(Services {
            sqlite: Arc::new(SqlitePool::new(options.sqlite_dir.join("sqlite_db.db"))),
            pg: Arc::default(),
            key_value: Arc::new(KeyValueFile::new(
                options.sqlite_dir.join("sqlite_key_value.db"),
            )),
            exporter: Exporter::from_env(&app.name),
        });
        Ok(Arc::new_cyclic(|me| Self {
            app,
            components,
            services,
            slots: Arc::new(tokio::sync::Semaphore::new(MAX_INSTANCES as usize)),
            me: me.clone(),
        }))
    }

    pub fn app(&self) -> &App {
        &self.app
    }

    /// Runs one request through a fresh instance of the component.
    pub async fn handle<B>(
        &self,
        component_id: &str,
        mut req: hyper::Request<B>,
    ) -> Result<hyper::Response<HyperOutgoingBody>>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let loaded = self
            .components
            .get(component_id)
            .ok_or_else(|| anyhow!("no component `{component_id}`"))?;
        let permit = tokio::time::timeout(SLOT_WAIT, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| Busy)??;
        let mut wasi = WasiCtx::builder();
        wasi.inherit_stdout().inherit_stderr();
        for (key, value) in &loaded.config.environment {
            wasi.env(key, value);
        }
        // The request's span: a child of the caller's when it sent a `traceparent`. The guest
        // sees this span as its parent, so its log line carries the same trace id.
        let span = self.services.exporter.as_ref().map(|_| {
            let caller = req
                .headers()
                .get("traceparent")
                .and_then(|v| v.to_str().ok())
                .and_then(TraceParent::parse);
            let mut span = Span::start(
                caller.as_ref(),
                format!("{} {component_id}", req.method()),
                SERVER,
            );
            span.attribute("http.request.method", req.method().as_str());
            span.attribute("url.path", req.uri().path());
            span.attribute("spin.component", component_id);
            span
        });
        let trace = span.as_ref().map(Span::context);
        if let Some(trace) = &trace
            && let Ok(value) = trace.header().parse()
        {
            req.headers_mut().insert("traceparent", value);
        }
        let broken_chain = Arc::new(OnceLock::new());
        if self.me.strong_count() == 0 {
            anyhow::bail!("host is shutting down");
        }
        let hooks = OutboundHooks {
            component: loaded.config.clone(),
            host: self.me.clone(),
            broken_chain: broken_chain.clone(),
            trace: trace.clone(),
        };
        let state = State::new(
            wasi.build(),
            loaded.config.clone(),
            self.services.clone(),
            Box::new(hooks),
            trace,
        );
        let mut store = Store::new(loaded.pre.engine(), state);
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let req = context(
            store
                .data_mut()
                .http()
                .new_incoming_request(Scheme::Http, req),
            || "request".into(),
        )?;
        let out = context(
            store.data_mut().http().new_response_outparam(sender),
            || "response".into(),
        )?;
        let pre = loaded.pre.clone();
        // The guest may keep streaming the body after it sets the response, so it runs in a
        // task of its own, which holds the instance slot until it ends.
        let task = tokio::task::spawn(async move {
            let _permit = permit;
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, req, out)
                .await
        });
        let answered = match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => {
                let e = match task.await {
                    Ok(Ok(())) => anyhow!("the component never set a response"),
                    Ok(Err(e)) => anyhow::Error::from(e),
                    Err(e) => e.into(),
                };
                Err(e.context(format!("component `{component_id}` failed")))
            }
        };
        // Spin traps a guest that chains to a component the app does not run; here the guest
        // saw an error code and may have answered, but the request fails all the same.
        let outcome = match broken_chain.get() {
            Some(reason) => Err(anyhow!("component `{component_id}` failed: {reason}")),
            None => answered,
        };
        if let (Some(mut span), Some(exporter)) = (span, &self.services.exporter) {
            let status = outcome.as_ref().map_or(500, |r| r.status().as_u16());
            span.attribute("http.response.status_code", status.to_string());
            span.end(exporter, status >= 500);
        }
        outcome
    }
}

/// Outbound HTTP: `allowed_outbound_hosts` decides, and `http://<component>.spin.internal`
/// reaches a component of this app in-process (Spin's service chaining).
struct OutboundHooks {
    component: Arc<ComponentConfig>,
    host: Weak<Runtime>,
    /// Set when the guest chained to a component this app does not run.
    broken_chain: Arc<OnceLock<String>>,
    /// The span of the request that sends: each outbound request gets a client span under it.
    trace: Option<TraceParent>,
}

type SendFuture = Box<
    dyn std::future::Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<wasmtime_wasi_http::WasiBody>,
                Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

const CHAINING_SUFFIX: &str = ".spin.internal";

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        mut request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> SendFuture {
        use wasmtime_wasi_http::Error;
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("http").to_owned();
        let host = uri.host().unwrap_or_default().to_ascii_lowercase();
        let port = uri.port_u16();
        if !outbound::is_allowed(&self.component.allowed_outbound_hosts, &scheme, &host, port) {
            eprintln!(
                "spin-host: component `{}` may not reach {scheme}://{host}: not in allowed_outbound_hosts",
                self.component.id
            );
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        // A client span for this call; the callee hears it as its parent.
        let exporter = self
            .host
            .upgrade()
            .and_then(|r| r.services.exporter.clone());
        let span = exporter.as_ref().and(self.trace.as_ref()).map(|parent| {
            let mut span =
                Span::start(Some(parent), format!("{} {host}", request.method()), CLIENT);
            span.attribute("http.request.method", request.method().as_str());
            span.attribute("url.full", request.uri().to_string());
            span.attribute("server.address", host.clone());
            if let Ok(value) = span.context().header().parse() {
                request.headers_mut().insert("traceparent", value);
            }
            span
        });
        let end = move |status: Option<u16>| {
            if let (Some(mut span), Some(exporter)) = (span, exporter) {
                let status = status.unwrap_or(0);
                span.attribute("http.response.status_code", status.to_string());
                span.end(&exporter, status == 0 || status >= 500);
            }
        };
        if let Some(target) = host.strip_suffix(CHAINING_SUFFIX).map(str::to_owned) {
            let runtime = self.host.clone();
            let runs_target = runtime
                .upgrade()
                .is_some_and(|r| r.components.contains_key(&target));
            if !runs_target {
                let _ = self
                    .broken_chain
                    .set(format!("unknown routing destination '{target}'"));
                return Box::new(async { Err(Error::DestinationNotFound) });
            }
            return Box::new(async move {
                let runtime = runtime.upgrade().ok_or(Error::DestinationUnavailable)?;
                let response = runtime.handle(&target, request).await.map_err(|e| {
                    eprintln!("spin-host: chained request to `{target}` failed: {e:#}");
                    Error::DestinationUnavailable
                });
                end(response.as_ref().ok().map(|r| r.status().as_u16()));
                let response = response?;
                let done: Box<
                    dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send,
                > = Box::new(async { Ok(()) });
                Ok((response, done))
            });
        }
        Box::new(async move {
            let sent = wasmtime_wasi_http::default_send_request(request, options).await;
            end(sent.as_ref().ok().map(|(r, _)| r.status().as_u16()));
            let (response, io) = sent?;
            let io: Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send> =
                Box::new(io);
            Ok((response.map(BodyExt::boxed_unsync), io))
        })
    }
}
