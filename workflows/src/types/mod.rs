//! Inputs and outputs of the workflows and activities. Every one of them carries references to
//! blobs (`BlobRef`), never paper, chunk or code text, so that payloads stay small whatever the
//! size of the paper (claim check).
//!
//! One module per workflow (`paper_to_code`, `execution`, `paper_batch`, `ingest_papers`, `eval`) and the
//! shared ones (`common`); everything is re-exported here, so `workflows::types::X` names any of
//! them.

#[macro_use]
mod lenient;
mod common;
mod execution;
mod ingest_papers;
#[macro_use]
mod kinds;
// After `kinds`: it uses `pinned_enum!`.
mod eval;
mod notify;
mod paper_batch;
mod paper_to_code;
mod repository;
mod search;

pub use common::*;
pub use eval::*;
pub use execution::*;
pub use ingest_papers::*;
pub use kinds::*;
pub use notify::*;
pub use paper_batch::*;
pub use paper_to_code::*;
pub use repository::*;
pub use search::*;
