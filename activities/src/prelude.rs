//! What every activity file uses, in one `use crate::prelude::*;`.
#![allow(unused_imports)]

pub(crate) use std::sync::Arc;
pub(crate) use std::time::Duration;

pub(crate) use temporalio_sdk::activities::ActivityContext;
pub(crate) use workflows::types::*;

pub(crate) use crate::check::check_python;
pub(crate) use crate::chunking;
pub(crate) use crate::clients::blobs::BlobStore;
pub(crate) use crate::clients::blobs::sha256_hex;
pub(crate) use crate::clients::llm::{LlmRequest, Role};
pub(crate) use crate::clients::papers::{PaperOrigin, PaperRecord, RunRecord, Selection};
pub(crate) use crate::datasets;
pub(crate) use crate::deps::{Call, Deps, Out, paper_ref, short};
pub(crate) use crate::failure::{Classified, permanent, transient};
pub(crate) use crate::ingest::{Provenance, add_bytes, add_paper, allowed_source};
pub(crate) use crate::prompts;
pub(crate) use crate::results;
pub(crate) use crate::sandbox::SandboxConfig;
pub(crate) use crate::settings::Settings;
pub(crate) use serde::{Deserialize, Serialize};
