//! What one test process at a time may do on this machine, whichever lane of `make test`
//! (`scripts/test-lanes.sh`) runs it, and whichever checkout: each right is a name in the
//! network namespace's abstract socket space, bound by the holder's process. The kernel frees
//! it when that process exits, so a holder that dies releases it, and nothing is left on disk
//! for a later boot to mistake for a holder. A lock file would not do: two checkouts on one
//! machine may see different temporary directories (or roots) but share the network
//! namespace, where the nodes' namespaces, routes and addresses live. Each right waits for
//! whoever holds it; released when dropped.

use std::io::ErrorKind;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::time::Duration;

/// The right to run `local-dev/nodes.sh`'s nodes of one control plane slot, held while they
/// run: one set runs per slot on a machine (their network namespaces, routes and addresses are
/// fixed per member and slot), and `make test` runs the playground and the tests of a second
/// control plane, one after the other, beside the tests of its own.
pub struct OneSetOfNodes {
    _held: UnixListener,
}

impl OneSetOfNodes {
    /// The nodes of the control plane in `CONTROL_PLANE_DIR`.
    ///
    /// # Panics
    /// When no control plane runs, or the name cannot be bound for another reason than being
    /// held.
    pub fn wait() -> Self {
        Self::of_slot(crate::control_plane::slot())
    }

    /// The nodes of the control plane this process's environment would start: the slot
    /// `CONTROL_PLANE_SLOT` names (else 0), as `local-dev/control-plane.sh` reads it.
    ///
    /// # Panics
    /// When CONTROL_PLANE_SLOT is no number, or the name cannot be bound for another reason
    /// than being held.
    pub fn wait_for_slot_to_start() -> Self {
        let slot = std::env::var("CONTROL_PLANE_SLOT").map_or(0, |slot| {
            slot.parse().expect("CONTROL_PLANE_SLOT is a number")
        });
        Self::of_slot(slot)
    }

    fn of_slot(slot: u8) -> Self {
        OneSetOfNodes {
            _held: hold(&format!("automatizacion-nodes-{slot}")),
        }
    }
}

/// The right to compile: two builds at once on two cores take as long as one after the other,
/// and make each test's waits meanwhile twice as long.
pub struct OneBuildAtATime {
    _held: UnixListener,
}

impl OneBuildAtATime {
    /// # Panics
    /// When the name cannot be bound for another reason than being held.
    pub fn wait() -> Self {
        OneBuildAtATime {
            _held: hold("automatizacion-build"),
        }
    }
}

/// Binds NAME once nobody holds it, trying again a few times a second.
fn hold(name: &str) -> UnixListener {
    let address = SocketAddr::from_abstract_name(name.as_bytes())
        .unwrap_or_else(|e| panic!("the abstract socket name {name}: {e}"));
    loop {
        match UnixListener::bind_addr(&address) {
            Ok(held) => return held,
            Err(e) if e.kind() == ErrorKind::AddrInUse => {
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(e) => panic!("holding {name}: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::hold;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn a_right_waits_for_its_holder_and_is_free_once_dropped() {
        let name = format!("automatizacion-test-right-{}", std::process::id());
        let first = hold(&name);
        let (held, told) = mpsc::channel();
        let waiter = {
            let name = name.clone();
            std::thread::spawn(move || {
                let second = hold(&name);
                held.send(()).unwrap();
                drop(second);
            })
        };
        // Whatever the timing, the second cannot hold it while the first does.
        assert!(told.recv_timeout(Duration::from_secs(1)).is_err());
        drop(first);
        told.recv().unwrap();
        waiter.join().unwrap();
        // Released by its holder's drop: free again at once.
        drop(hold(&name));
    }
}
