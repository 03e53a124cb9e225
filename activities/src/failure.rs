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
) -> Classified {
    let builder = ApplicationFailure::builder(message)
        .type_name(type_name.to_owned())
        .non_retryable(!retryable);
    let failure = match next_retry_delay {
        Some(d) => builder.next_retry_delay(d).build(),
        None => builder.build(),
    };
    Classified(ActivityError::application(failure))
}

/// A permanent failure: bad input, unreadable paper, refused request.
pub fn permanent(type_name: &str, message: impl Into<String>) -> Classified {
    failure(type_name, message.into(), false, None)
}

/// A failure worth retrying: storage hiccups and the like.
pub fn transient(type_name: &str, message: impl Into<String>) -> Classified {
    failure(type_name, message.into(), true, None)
}

impl From<crate::clients::blobs::BlobError> for Classified {
    fn from(e: crate::clients::blobs::BlobError) -> Self {
        let retryable = e.is_retryable();
        failure("BlobStoreError", e.to_string(), retryable, None)
    }
}

impl From<crate::feeds::SourceError> for Classified {
    fn from(e: crate::feeds::SourceError) -> Self {
        failure(e.type_name(), e.to_string(), e.is_retryable(), None)
    }
}

impl From<crate::clients::papers::PaperStoreError> for Classified {
    fn from(e: crate::clients::papers::PaperStoreError) -> Self {
        failure(e.type_name(), e.to_string(), e.is_retryable(), None)
    }
}

impl From<crate::clients::llm::LlmError> for Classified {
    fn from(e: crate::clients::llm::LlmError) -> Self {
        let delay = match &e {
            crate::clients::llm::LlmError::Throttled { retry_after, .. } => *retry_after,
            _ => None,
        };
        failure(e.type_name(), e.to_string(), e.is_retryable(), delay)
    }
}

impl From<crate::ingest::IngestError> for Classified {
    fn from(e: crate::ingest::IngestError) -> Self {
        failure(e.type_name(), e.to_string(), e.is_retryable(), None)
    }
}

impl From<crate::check::CheckError> for Classified {
    fn from(e: crate::check::CheckError) -> Self {
        transient("CheckerUnavailable", e.to_string())
    }
}

/// An activity error that has been classified: retryable or not, with a type name. Activities
/// return it; `?` converts only the library errors listed above into it (there is no blanket
/// conversion, so an unclassified error does not compile), and [`crate::heartbeat`] turns it into
/// the SDK's `ActivityError` in one explicit place.
#[derive(Debug)]
pub struct Classified(pub ActivityError);

impl From<Classified> for ActivityError {
    fn from(c: Classified) -> Self {
        c.0
    }
}
