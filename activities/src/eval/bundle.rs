//! A task folder as one blob: `{"name": …, "files": {path: text}, "binary": {path: hex}}`. The
//! command line reads the folder and stores it; the worker never reads a path a workflow input
//! names, and every copy the tests run in is made from this.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A task folder's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Bundle {
    /// The task's name (its folder's).
    pub name: String,
    /// UTF-8 files, relative path → text.
    pub files: BTreeMap<String, String>,
    /// Other files, relative path → hex.
    #[serde(default)]
    pub binary: BTreeMap<String, String>,
}

impl Bundle {
    /// The bundle of a folder's files (as `task_format::read_files` gives them).
    pub fn new(name: &str, files: &BTreeMap<String, Vec<u8>>) -> Bundle {
        let mut b = Bundle {
            name: name.to_owned(),
            ..Default::default()
        };
        for (path, bytes) in files {
            match std::str::from_utf8(bytes) {
                Ok(text) => {
                    b.files.insert(path.clone(), text.to_owned());
                }
                Err(_) => {
                    b.binary.insert(path.clone(), hex::encode(bytes));
                }
            }
        }
        b
    }

    /// The files as bytes again.
    pub fn bytes(&self) -> BTreeMap<String, Vec<u8>> {
        let mut out: BTreeMap<String, Vec<u8>> = self
            .files
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
            .collect();
        for (k, v) in &self.binary {
            out.insert(k.clone(), hex::decode(v).unwrap_or_default());
        }
        out
    }
}
