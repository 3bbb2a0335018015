//! What one request's instance holds (its WASI context, its resources, its component's
//! configuration), and the services every instance shares.

use crate::manifest::ComponentConfig;
use crate::pools::{KeyValueFile, PgPool, SqlitePool};
use crate::traces::{Exporter, Span};
use spin_edge::TraceParent;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

/// The host's long-lived parts the Spin interfaces use.
pub struct Services {
    /// Connections to Spin's `default` SQLite database (`<sqlite-dir>/sqlite_db.db`).
    pub sqlite: Arc<SqlitePool>,
    pub pg: Arc<PgPool>,
    /// Spin's `default` key-value store (`<sqlite-dir>/sqlite_key_value.db`).
    pub key_value: Arc<KeyValueFile>,
    /// Where spans go, when the environment asks for traces (`OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub exporter: Option<Arc<Exporter>>,
}

/// Per-request store data.
pub struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    pub table: ResourceTable,
    pub component: Arc<ComponentConfig>,
    pub services: Arc<Services>,
    /// Outbound HTTP: the runtime's rules and service chaining.
    hooks: Box<dyn WasiHttpHooks + Send>,
    /// The span of the request this instance handles, when traces are exported.
    pub trace: Option<TraceParent>,
}

impl State {
    pub fn new(
        wasi: WasiCtx,
        component: Arc<ComponentConfig>,
        services: Arc<Services>,
        hooks: Box<dyn WasiHttpHooks + Send>,
        trace: Option<TraceParent>,
    ) -> Self {
        Self {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            component,
            services,
            hooks,
            trace,
        }
    }

    /// A span under this request's, for a host call (a database statement); `None` when
    /// traces are not exported.
    pub fn child_span(&self, name: String, kind: u8) -> Option<Span> {
        self.services.exporter.as_ref()?;
        Some(Span::start(Some(self.trace.as_ref()?), name, kind))
    }

    pub fn end_span(&self, span: Option<Span>, error: bool) {
        if let (Some(span), Some(exporter)) = (span, &self.services.exporter) {
            span.end(exporter, error);
        }
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut *self.hooks,
        }
    }
}
