//! The one mapping from domain errors to gRPC statuses, for both services:
//! callers learn what they need to fix; storage failures are logged and
//! reported as internal.

use tonic::Status;

use crate::node::NodeError;
use crate::storage::StoreError;

/// Maps a domain error to a gRPC status: callers learn what they need to
/// fix; storage failures are logged and reported as internal.
pub fn status(e: NodeError) -> Status {
    match e {
        NodeError::Invalid(m) => Status::invalid_argument(m),
        NodeError::Refused(m) => Status::permission_denied(m),
        NodeError::Identity(e) => Status::failed_precondition(e.to_string()),
        NodeError::NotFederated => Status::failed_precondition(e.to_string()),
        NodeError::Unknown(m) => Status::not_found(m),
        NodeError::Timeout(m) => Status::deadline_exceeded(m),
        NodeError::Exhausted(m) => Status::resource_exhausted(m),
        NodeError::Unavailable(m) => Status::unavailable(m),
        NodeError::Internal(m) => {
            tracing::error!(cause = %m, "internal failure");
            Status::internal(m)
        }
        NodeError::Store(e) => match e {
            StoreError::NotFound(_) => Status::not_found(e.to_string()),
            StoreError::Ambiguous { .. } | StoreError::BadPrefix(_) | StoreError::Expired(_) => {
                Status::invalid_argument(e.to_string())
            }
            StoreError::Retracted { .. } => Status::not_found(e.to_string()),
            StoreError::NotAuthor { .. } => Status::permission_denied(e.to_string()),
            StoreError::Closed => Status::unavailable(e.to_string()),
            StoreError::NotDurable(_) => {
                tracing::error!(cause = %e, "group commit failed");
                Status::unavailable(e.to_string())
            }
            StoreError::Sled(_) | StoreError::Corrupt(_) | StoreError::Mismatch(_) => {
                tracing::error!(cause = %e, "storage failure");
                Status::internal(format!("storage failure: {e}"))
            }
        },
    }
}
