//! History checkers: linearizability of registers, list-append invariants, convergence.

pub mod converge;
pub mod elle;
pub mod linear;
pub mod list;
pub mod ryw;
pub mod ttl;
