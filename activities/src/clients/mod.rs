//! One module per external system: a small trait or type with a real implementation and, where
//! a layer's unit tests need one, a test double.

pub mod blobs;
pub mod llm;
pub mod papers;
