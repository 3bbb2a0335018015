//! What no real part covers on the container-free control plane when **no nodes run**
//! (local-dev/README.md): a **SpinKube status stand-in**. Karmada judges a SpinApp's health from
//! the status spin-operator writes; without nodes there is no operator, so [`status`] reports
//! every SpinApp ready while **nothing runs** (the status-only mode that
//! `scripts/with-control-plane.sh` and `make control-plane` use), in the shape the operator
//! v0.6.1 writes. Where SpinApps must run, the real nodes run them (`local-dev/nodes.sh`,
//! `testing/spinkube-nodes`); [`put_back`] returns the suite's control plane to the status-only
//! state after a test that changed it.

mod kube;
pub mod put_back;
pub mod status;
