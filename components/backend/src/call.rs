//! One request in flight: what handlers need (the request, the host, the caller, the settings,
//! the body), each loaded on first use.

use crate::auth::{Principal, Role, bearer_token};
use crate::host::Host;
use crate::http::{ApiRequest, ApiResponse, Body};
use crate::input;
use crate::problem::ApiError;
use crate::read_model::{self, Read, ReadKey};
use crate::settings::Settings;
use ledger::types::{ClusterName, Version};
use ledger::{Context, Ledger, LedgerError};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// One request in flight: what handlers need, loaded on first use.
pub struct Call<'r, 'h> {
    pub req: &'r ApiRequest,
    pub host: &'r Host<'h>,
    pub request_id: String,
    /// The path's one variable segment (`{version}`, `{name}`), when the route has one, as it
    /// arrived; the handler parses it into the type it names.
    pub path_segment: Option<String>,
    pub(crate) principal: Option<Principal>,
    pub(crate) settings: Option<Settings>,
    pub(crate) body: Option<Body>,
}

impl<'r> Call<'r, '_> {
    /// The `{version}` of the path; a version no release could have is not found.
    pub fn version(&self) -> Result<Version, ApiError> {
        match &self.path_segment {
            Some(segment) => input::path_version(segment),
            None => Err(ApiError::NotFound("no such release".into())),
        }
    }

    /// The `{name}` of a cluster's path: a name that is not a cluster name is unprocessable.
    pub fn cluster(&self) -> Result<ClusterName, ApiError> {
        input::path_cluster(self.path_segment.as_deref().unwrap_or_default())
    }

    /// The request body, read on first use: only routes that take one ask, and only after
    /// they authenticated the caller, so an anonymous client cannot make the host wait on it.
    fn body(&mut self) -> &Body {
        let (req, host) = (self.req, self.host);
        self.body.get_or_insert_with(|| match &req.body {
            Body::Unread => (host.read_body)(),
            read => read.clone(),
        })
    }

    /// The body as JSON of type `T` (see [`input::json_body`]).
    pub fn json_body<T: DeserializeOwned>(&mut self) -> Result<T, ApiError> {
        let content_type = self.req.header_value("content-type");
        input::json_body(self.body(), content_type)
    }

    /// Like [`Call::json_body`], but an empty body stands for `{}`.
    pub fn optional_json_body<T: DeserializeOwned>(&mut self) -> Result<T, ApiError> {
        let content_type = self.req.header_value("content-type");
        input::optional_json_body(self.body(), content_type)
    }

    /// The bearer token, if any. Two `Authorization` headers are refused: which one counts
    /// would depend on who reads them.
    fn bearer(&self) -> Result<Option<&'r str>, ApiError> {
        let req: &'r ApiRequest = self.req;
        if req.header_values("authorization").nth(1).is_some() {
            return Err(ApiError::Unauthorized(
                "send one Authorization header, not several".into(),
            ));
        }
        Ok(bearer_token(req.header_value("authorization")))
    }

    pub fn settings(&mut self) -> Result<&Settings, ApiError> {
        if self.settings.is_none() {
            let settings = Settings::load(self.host.variable).map_err(ApiError::Unavailable)?;
            self.settings = Some(settings);
        }
        Ok(self.settings.as_ref().expect("loaded above"))
    }

    /// Reads need any role, unless `public_read` lets everyone read.
    pub fn authorize_read(&mut self) -> Result<(), ApiError> {
        if self.settings()?.public_read && self.bearer()?.is_none() {
            return Ok(());
        }
        let principal = self.authenticate()?;
        if !principal.may_read() {
            return Err(ApiError::Forbidden(
                "reading needs a token with a role".into(),
            ));
        }
        Ok(())
    }

    /// Writes always need a token carrying `role` (or admin).
    pub fn authorize(&mut self, role: Role) -> Result<Context, ApiError> {
        let principal = self.authenticate()?;
        if !principal.has(role) {
            return Err(ApiError::Forbidden(format!(
                "this needs the `{}` role",
                role.as_str()
            )));
        }
        Ok(Context {
            actor: principal.subject.clone(),
            request_id: self.request_id.clone(),
            now: self.host.now,
        })
    }

    /// After [`Call::authorize`]: a write that names ON_BEHALF_OF needs a token from an issuer
    /// configured to act for others (`acts_for_others` in `auth_issuers`): anyone else could
    /// attribute a release to whomever they like, and steer the four-eyes rule with it.
    pub fn may_act_for(
        &self,
        on_behalf_of: Option<&ledger::types::Subject>,
    ) -> Result<(), ApiError> {
        let Some(person) = on_behalf_of else {
            return Ok(());
        };
        match &self.principal {
            Some(principal) if principal.acts_for_others => Ok(()),
            Some(principal) => Err(ApiError::Forbidden(format!(
                "tokens of issuer `{}` may not record on behalf of `{person}`: only an issuer \
                 that verifies who a person is acts for others",
                principal.issuer
            ))),
            None => Err(ApiError::Unauthorized("send a bearer token".into())),
        }
    }

    fn authenticate(&mut self) -> Result<&Principal, ApiError> {
        let token = self.bearer()?.ok_or_else(|| {
            ApiError::Unauthorized("send a bearer token: Authorization: Bearer <JWT>".into())
        })?;
        let principal = self
            .settings()?
            .verifier
            .verify(token)
            .map_err(ApiError::Unauthorized)?;
        Ok(self.principal.insert(principal))
    }

    /// Runs a read against the ledger: see [`Ledger::read`] for why it skips the migration
    /// check. `work` may run twice, once more after migrating.
    pub fn read_ledger<T>(
        &mut self,
        work: impl Fn(&Ledger) -> Result<T, LedgerError>,
    ) -> Result<T, ApiError> {
        let now = self.host.now;
        let open_db = self.host.open_db;
        let settings = self.settings()?;
        let exec = open_db(settings.db_url.as_deref())?;
        Ok(Ledger::read(exec.as_ref(), &settings.clusters, now, work)?)
    }

    /// A read's answer as JSON: the read model's, when it keeps a current one for READ (the
    /// route and its parsed query, `read_model::Read`), else the ledger's, which it then keeps.
    /// Reads that would fill the store with one entry per cursor pass `None`. A store that
    /// fails is passed by: the ledger answers.
    pub fn read_json<T: Serialize>(
        &mut self,
        read: Option<Read>,
        work: impl Fn(&Ledger) -> Result<T, LedgerError>,
    ) -> Result<ApiResponse, ApiError> {
        let body = self.read_kept(read, read_model::MAX_AGE_MICROS, |ledger| {
            Ok(serde_json::to_vec(&work(ledger)?).expect("answers serialize"))
        })?;
        Ok(ApiResponse::new(200, "application/json", body))
    }

    /// The bytes WORK makes from the ledger, kept in the read model under READ for at most
    /// MAX_AGE (microseconds) while no write happens; see [`Call::read_json`].
    pub fn read_kept(
        &mut self,
        read: Option<Read>,
        max_age: i64,
        work: impl Fn(&Ledger) -> Result<Vec<u8>, LedgerError>,
    ) -> Result<Vec<u8>, ApiError> {
        let (now, open_key_value) = (self.host.now, self.host.open_key_value);
        let settings = self.settings()?;
        let key = read
            .filter(|_| settings.read_model)
            .map(|read| ReadKey::new(&settings.read_scope, &read));
        let fresh = &self.host.fresh_request_id;
        let kept = key.and_then(|key| {
            let store = open_key_value().ok()?;
            let generation = read_model::generation(store.as_ref(), fresh).ok()?;
            Some((store, key, generation))
        });
        if let Some((store, key, generation)) = &kept
            && let Ok(Some(body)) = read_model::kept(store.as_ref(), key, generation, now, max_age)
        {
            return Ok(body);
        }
        let body = self.read_ledger(work)?;
        if let Some((store, key, generation)) = &kept {
            let _ = read_model::keep(store.as_ref(), key, generation, now, &body);
        }
        Ok(body)
    }

    /// One read of the read model's store, whatever it answers (see `handlers::ready`).
    pub fn touch_read_model(&mut self) -> Result<(), ApiError> {
        if self.settings()?.read_model
            && let Ok(store) = (self.host.open_key_value)()
        {
            let _ = store.get(read_model::GENERATION);
        }
        Ok(())
    }

    /// Runs a write against the ledger, opening the database (and migrating it) first. Once
    /// it has committed a change (or a migration), the read model gets a new generation,
    /// before anyone is answered. A write that changed nothing (a readiness probe, a repeat, a
    /// refusal, a late observation) leaves every kept answer current.
    pub fn with_ledger<T>(
        &mut self,
        work: impl FnOnce(&Ledger) -> Result<(T, Effect), ApiError>,
    ) -> Result<T, ApiError> {
        let now = self.host.now;
        let open_db = self.host.open_db;
        let settings = self.settings()?;
        let exec = open_db(settings.db_url.as_deref())?;
        let ledger = Ledger::open(exec.as_ref(), &settings.clusters, now)?;
        let (done, effect) = work(&ledger)?;
        if effect == Effect::Changed || ledger.migrated() {
            // A store that fails leaves kept answers to age out (read_model::MAX_AGE_MICROS).
            if let Ok(store) = (self.host.open_key_value)() {
                let _ = read_model::written(store.as_ref(), &self.host.fresh_request_id);
            }
        }
        Ok(done)
    }
}

/// Whether a write changed what the ledger answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Changed,
    Unchanged,
}

impl Effect {
    pub fn changed_if(changed: bool) -> Self {
        if changed {
            Effect::Changed
        } else {
            Effect::Unchanged
        }
    }
}
