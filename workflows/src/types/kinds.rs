//! The small closed sets that travel on the wire as strings: targets, severities, run
//! classifications and paper statuses. Each is a serde enum whose JSON is the same string as
//! before (recorded histories replay unchanged), with one `as_str` and one parser.

use serde::{Deserialize, Serialize};

/// Defines an enum with its pinned names, `ALL`, `as_str`, `parse` and `Display`.
macro_rules! pinned_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }
        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The pinned name (the JSON, the search attribute value, the database text).
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            /// The value with this pinned name.
            pub fn parse(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pinned_enum! {
    /// Where generated code runs (the executor's task queue is `annapurna-exec-<target>`).
    Target {
        /// Any CPU host.
        Cpu = "cpu",
        /// An NVIDIA GPU host.
        Cuda = "cuda",
        /// An AWS Trainium (trn1) host with the Neuron SDK.
        Trainium = "trainium",
    }
}

pinned_enum! {
    /// How much a finding matters: `error` blocks, the others do not.
    Severity {
        /// Must be fixed before the code is accepted.
        Error = "error",
        /// Worth fixing.
        Warning = "warning",
        /// For the reader.
        Info = "info",
    }
}

pinned_enum! {
    /// What a run of the code came to, in one word.
    Classification {
        /// Exited 0.
        Ok = "ok",
        /// The code failed (an exception, a non-zero exit).
        CodeError = "code-error",
        /// Killed at the wall-clock limit.
        ResourceTime = "resource:time",
        /// Out of CPU seconds.
        ResourceCpu = "resource:cpu",
        /// Out of memory.
        ResourceMemory = "resource:memory",
        /// Out of processes or threads.
        ResourceProcesses = "resource:processes",
        /// Out of disk (the work directory's quota, or the file-size limit).
        ResourceDisk = "resource:disk",
        /// The executor lacks something (a module): a system issue, not the code's.
        Environment = "environment",
        /// The code tried what the sandbox forbids (network, writes outside its directory).
        SandboxViolation = "sandbox-violation",
        /// The training contract was not honoured (no `train_model`, a wrong signature, metrics
        /// without their named keys or not finite): a code fix.
        Contract = "contract",
        /// The model is larger than the budget (`max_model_mb`, `max_params`): a hyperparameter
        /// fix (shrink the architecture), not a code fix.
        OverBudget = "over-budget",
    }
}

pinned_enum! {
    /// Where a paper is in the paper store.
    PaperStatus {
        /// Added by hand (`annapurna paper add`, a `source` input).
        Added = "added",
        /// Downloaded from a feed, not judged yet.
        Ingested = "ingested",
        /// Passed the judge: selectable for generation.
        Indexed = "indexed",
        /// Failed the judge: kept, selected only by id.
        Rejected = "rejected",
    }
}

pinned_enum! {
    /// What a part of a paper is (see `activities::sections`); `main` when a recorded chunk
    /// does not say.
    #[derive(Default)]
    SectionKind {
        /// The paper's own text: abstract, method, experiments, conclusion.
        #[default]
        Main = "main",
        /// Related or prior work: summarised, and marked.
        RelatedWork = "related-work",
        /// The reference list: not summarised.
        References = "references",
        /// Acknowledgements and funding: not summarised.
        Acknowledgements = "acknowledgements",
        /// Checklists and statements a venue asks for (ethics, reproducibility, broader impact,
        /// author contributions): not summarised.
        Checklist = "checklist",
        /// Appendices: summarised last, within a budget.
        Appendix = "appendix",
    }
}

impl SectionKind {
    /// Whether chunks of this kind are summarised (appendices only within their budget).
    pub fn summarised(self) -> bool {
        !matches!(
            self,
            SectionKind::References | SectionKind::Acknowledgements | SectionKind::Checklist
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for c in Classification::ALL {
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            assert_eq!(serde_json::from_str::<Classification>(&json).unwrap(), *c);
            assert_eq!(Classification::parse(c.as_str()), Some(*c));
        }
        assert_eq!(
            serde_json::to_string(&Classification::ResourceMemory).unwrap(),
            "\"resource:memory\""
        );
        assert_eq!(Target::parse("trainium"), Some(Target::Trainium));
        assert_eq!(Target::parse("tpu"), None);
        assert!(serde_json::from_str::<Severity>("\"fatal\"").is_err());
    }
}
