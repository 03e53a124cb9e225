//! Turning errors into Temporal failures. `?` alone would make every error retryable; here each
//! error says whether it is, and permanent ones become non-retryable `ApplicationFailure`s with a
//! type name that the Web UI shows.

use std::time::Duration;

use temporalio_common::error::ApplicationFailure;
use temporalio_sdk::activities::ActivityError;

/// A failure with a type name; retryable or not, with an optional provider delay.
pub fn failure(
    type_name: &str,
    message: String,
    retryable: bool,
    next_retry_delay: Option<Duration>,
) -> ActivityError {
    let builder = ApplicationFailure::builder(message)
        .type_name(type_name.to_owned())
        .non_retryable(!retryable);
    let failure = match next_retry_delay {
        Some(d) => builder.next_retry_delay(d).build(),
        None => builder.build(),
    };
    ActivityError::application(failure)
}

/// A permanent failure: bad input, unreadable paper, refused request.
pub fn permanent(type_name: &str, message: impl Into<String>) -> ActivityError {
    failure(type_name, message.into(), false, None)
}

/// A failure worth retrying: storage hiccups and the like.
pub fn transient(type_name: &str, message: impl Into<String>) -> ActivityError {
    failure(type_name, message.into(), true, None)
}

impl From<crate::clients::blobs::BlobError> for Classified {
    fn from(e: crate::clients::blobs::BlobError) -> Self {
        let retryable = e.is_retryable();
        Classified(failure("BlobStoreError", e.to_string(), retryable, None))
    }
}

impl From<crate::sources::SourceError> for Classified {
    fn from(e: crate::sources::SourceError) -> Self {
        Classified(failure(
            e.type_name(),
            e.to_string(),
            e.is_retryable(),
            None,
        ))
    }
}

impl From<crate::clients::papers::PaperStoreError> for Classified {
    fn from(e: crate::clients::papers::PaperStoreError) -> Self {
        Classified(failure(
            e.type_name(),
            e.to_string(),
            e.is_retryable(),
            None,
        ))
    }
}

impl From<crate::clients::llm::LlmError> for Classified {
    fn from(e: crate::clients::llm::LlmError) -> Self {
        let delay = match &e {
            crate::clients::llm::LlmError::Throttled { retry_after, .. } => *retry_after,
            _ => None,
        };
        Classified(failure(
            e.type_name(),
            e.to_string(),
            e.is_retryable(),
            delay,
        ))
    }
}

impl From<crate::ingest::IngestError> for Classified {
    fn from(e: crate::ingest::IngestError) -> Self {
        Classified(failure(
            e.type_name(),
            e.to_string(),
            e.is_retryable(),
            None,
        ))
    }
}

impl From<crate::check::CheckError> for Classified {
    fn from(e: crate::check::CheckError) -> Self {
        Classified(transient("CheckerUnavailable", e.to_string()))
    }
}

/// An activity error that has been classified; `?` converts library errors into it.
pub struct Classified(pub ActivityError);

impl From<Classified> for ActivityError {
    fn from(c: Classified) -> Self {
        c.0
    }
}
