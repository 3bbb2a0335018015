//! Stand-ins for the release pipeline's servers that cannot run here: Kestra 2.0 (saving,
//! executing and resuming flows, its REST API) and Rundeck 6.1 (running a job as a user under
//! the ACL). Each is derived from the reference data of the real server (`testing/reference`, read
//! from their sources), never from our own flow and jobs, and is at least as strict as the real
//! thing: whatever the real server would refuse, the stand-in refuses, so a bug users would hit
//! first fails a test here.

pub mod kestra;
pub mod reference;
pub mod rundeck;

/// The test-only issuer keys (`keys/README.md`): `kestra-1`, `rundeck-1`, `rundeck-admins-1`,
/// each with `.pem` (private) and `.pub.pem`.
pub fn key(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("keys")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
