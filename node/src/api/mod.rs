//! The gRPC surface: each service converts the request, calls the
//! node's domain operation and maps the result; nothing else.
//!
//! - [`agency`] is the local Agency service (Unix socket, optional TCP).
//!   Its joint-work calls (correlation, alerts, deconfliction, operation
//!   boards) convert in `joint`; record views are in `views`; stats and
//!   the audit form of a query in `read`; the operator calls (check,
//!   backup) in `admin`.
//! - [`federation`] is the Federation service peers call over mutual TLS.
//! - [`gate`] holds each caller to its allowance of calls and streams.
//! - [`status`] maps domain errors to gRPC statuses, for both.

mod admin;
pub mod agency;
pub mod federation;
pub mod gate;
mod joint;
pub(crate) mod read;
pub mod status;
mod views;
