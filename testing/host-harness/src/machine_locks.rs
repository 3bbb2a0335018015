//! What one test process at a time may do on this machine, whichever lane of `make test`
//! (`scripts/test-lanes.sh`) runs it: each right is a lock file that the holder's process
//! holds, so a holder that dies releases it. Each waits for whoever holds it; released when
//! dropped.

use std::fs::File;

/// The right to run `local-dev/nodes.sh`'s nodes, held while they run: one set runs on a machine
/// (their network namespaces, routes and addresses are fixed per member), and `make test` runs
/// the playground beside the tests of its own control plane.
pub struct OneSetOfNodes {
    _held: File,
}

impl OneSetOfNodes {
    /// # Panics
    /// When the lock file cannot be opened or locked.
    pub fn wait() -> Self {
        OneSetOfNodes {
            _held: hold("automatizacion-nodes.lock"),
        }
    }
}

/// The right to compile: two builds at once on two cores take as long as one after the other,
/// and make each test's waits meanwhile twice as long.
pub struct OneBuildAtATime {
    _held: File,
}

impl OneBuildAtATime {
    /// # Panics
    /// When the lock file cannot be opened or locked.
    pub fn wait() -> Self {
        OneBuildAtATime {
            _held: hold("automatizacion-build.lock"),
        }
    }
}

fn hold(name: &str) -> File {
    let path = std::env::temp_dir().join(name);
    let file = File::create(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.lock()
        .unwrap_or_else(|e| panic!("locking {}: {e}", path.display()));
    file
}
