//! A **stand-in for SpinKube**, for the container-free control plane (local-dev/README.md): no
//! kubelet runs pods there, so this runs each SpinApp that Karmada placed on a member with real
//! Spin on loopback, one process per SpinApp per cluster whatever `replicas` says, and writes
//! the SpinApp's status from what that process does.
//!
//! [`desired`] resolves a SpinApp the way spin-operator v0.6.1 builds its pods
//! (`internal/controller/deployment.go`, `internal/runtimeconfig`) and containerd-shim-spin
//! v0.24.0 runs them; [`standin`] keeps the processes in line with the members; [`service`]
//! gives each SpinApp the stable address its Service would; [`deployment`] keeps the Deployment
//! the operator would make of it, with the status its controller would write; [`status`] writes
//! every SpinApp status, including the status-only mode, where nothing runs.

mod config;
pub mod deployment;
pub mod desired;
mod kube;
mod process;
pub mod put_back;
pub mod service;
pub mod standin;
pub mod status;
