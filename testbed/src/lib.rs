//! wildnet-testbed: the one way to build and run a throw-away federation —
//! used by the end-to-end tests, `wildnet bench`, `bench --simulate` and
//! `wildnet federation quickstart`.
//!
//! - [`spec`]: what to build — agencies, groups, links (mesh, line, star,
//!   explicit pairs), how addresses are found, intervals.
//! - [`build`]: builds it the way a secretariat and agencies do apart — CA,
//!   agency keys, admission, groups, join, typed `node.toml` edits —
//!   with addresses learnt by binding port 0.
//! - [`node`]: one handle for a node run in this process or as a child
//!   `wildnet-node` process: `client()`, `peers()`, `stop()`, `kill()`,
//!   `restart()`.
//! - [`fed`]: a running federation of such nodes.
//! - [`wait`]: one bounded wait that says what it waited for, and the
//!   usual conditions (caught up, links up, converged).
//! - [`drafts`]: record drafts for tests and benchmarks.

pub mod build;
pub mod drafts;
pub mod fed;
pub mod node;
pub mod spec;
pub mod wait;

pub use build::{Agency, Built, build};
pub use fed::Federation;
pub use node::{Kind, Node};
pub use spec::{Addresses, FedSpec, Links};
