//! One module per external system: a small trait or type with a real implementation and, where
//! a layer's unit tests need one, a test double.
//!
//! - [`llm`]: the model contract, Bedrock's Converse client and the test double
//! - [`openai`]: the OpenAI-compatible Chat Completions client and the providers' configuration
//! - [`router`]: `provider/model` ids, and the client that routes each call to its provider
//! - [`blobs`], [`papers`]: the blob and paper stores
//! - [`batch`]: Bedrock batch inference jobs and their JSONL records

pub mod batch;
pub mod blobs;
pub mod llm;
pub mod openai;
pub mod papers;
pub mod router;
