//! History checkers: linearizability of registers, list-append invariants, convergence.

pub mod converge;
pub mod linear;
pub mod list;
