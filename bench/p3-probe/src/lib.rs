//! The benchmark's instance-reuse candidate (bench/README.md): `GET /` answers what the
//! backend answers for `/api/releases?limit=20`, through the same ledger code and SQL, but as a
//! WASIp3 component that Spin 3.6 serves from one instance for up to 128 requests, so its
//! SQLite connection is opened once per instance instead of once per request.
#![cfg(target_arch = "wasm32")]

use ledger::model::PageRequest;
use ledger::{Clusters, Ledger, Timestamp};
use spin_db::SpinSqlite;
use spin_sdk::http_wasip3::{IntoResponse, Request, http_service};
use spin_sdk::sqlite3::Connection;
use std::cell::RefCell;

thread_local! {
    /// The instance's connection: guest statics live as long as the instance.
    static DB: RefCell<Option<SpinSqlite>> = const { RefCell::new(None) };
}

#[http_service]
async fn handle(_request: Request) -> impl IntoResponse {
    let (status, body) = match first_page() {
        Ok(body) => (200, body),
        Err(why) => (500, why),
    };
    // The whole body with its length, so it leaves in one write (see spin-edge's `send`).
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("content-length", body.len())
        .body(body)
        .expect("a valid response")
}

fn first_page() -> Result<String, String> {
    let clusters =
        Clusters::parse(ledger::clusters::DEFAULT_CLUSTERS).map_err(|e| e.to_string())?;
    DB.with(|db| {
        let mut db = db.borrow_mut();
        if db.is_none() {
            let conn = Connection::open_default().map_err(|e| format!("{e:?}"))?;
            *db = Some(SpinSqlite(conn));
        }
        let exec = db.as_ref().expect("opened above");
        let page = PageRequest {
            limit: 20,
            before_id: None,
        };
        let releases = Ledger::read(exec, &clusters, Timestamp::now(), |ledger| {
            ledger.list_releases(page)
        })
        .map_err(|e| e.to_string())?;
        serde_json::to_string(&releases).map_err(|e| e.to_string())
    })
}
