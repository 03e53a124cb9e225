//! Workflow inputs that cannot fail to deserialize. The SDK turns an input that does not
//! deserialize into a workflow-task failure, retried for ever: `temporal workflow start --input
//! '{"paper_id": 5}'` would sit there with nothing but a task failure in the Web UI. These inputs
//! derive serde with `#[serde(remote = "Self")]` (the derived code becomes inherent functions) and
//! [`lenient_input!`] implements the traits over them: JSON that is not the input becomes the
//! default input with `invalid_input` saying what is wrong and where (the field's path), and the
//! workflow fails at once with `InvalidInput`.

/// Implements `Serialize` and a never-failing `Deserialize` for a workflow input `$ty` whose serde
/// derives carry `#[serde(remote = "Self")]` and which has an `invalid_input: Option<String>` field
/// (`#[serde(skip)]`). `$what` names the workflow in the message.
macro_rules! lenient_input {
    ($ty:ident, $what:literal) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                $ty::serialize(self, serializer)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <serde_json::Value as serde::Deserialize>::deserialize(deserializer)?;
                let mut track = serde_path_to_error::Track::new();
                let tracked = serde_path_to_error::Deserializer::new(value, &mut track);
                match $ty::deserialize(tracked) {
                    Ok(input) => Ok(input),
                    Err(e) => {
                        let path = track.path().to_string();
                        let place = if path.is_empty() || path == "." {
                            String::new()
                        } else {
                            format!(" at `{path}`")
                        };
                        Ok($ty {
                            invalid_input: Some(format!(
                                "the input is not a {} input{place}: {e}. Fix the JSON given \
                                 to `temporal workflow start --input` (the README lists the \
                                 input's fields)",
                                $what
                            )),
                            ..Default::default()
                        })
                    }
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use crate::types::{IngestPapersInput, PaperBatchInput, PaperToCodeInput};

    #[test]
    fn bad_inputs_become_a_message_naming_the_field() {
        let bad: PaperToCodeInput = serde_json::from_str(r#"{"paper_id": 5}"#).unwrap();
        let why = bad.invalid_input.unwrap();
        assert!(
            why.contains("at `paper_id`") && why.contains("invalid type"),
            "{why}"
        );
        assert!(why.contains("not a PaperToCode input"), "{why}");
        let nested: PaperBatchInput =
            serde_json::from_str(r#"{"paper_ids": ["a"], "paper": {"review_rounds": "x"}}"#)
                .unwrap();
        assert!(nested.invalid_input.is_none());
        let inner = nested.paper.unwrap().invalid_input.unwrap();
        assert!(inner.contains("review_rounds"), "{inner}");
        let feeds: IngestPapersInput =
            serde_json::from_str(r#"{"feeds": [{"kind": "gopher"}]}"#).unwrap();
        let why = feeds.invalid_input.unwrap();
        assert!(why.contains("feeds[0]") && why.contains("gopher"), "{why}");
        let text: PaperToCodeInput = serde_json::from_str(r#""paper.pdf""#).unwrap();
        let why = text.invalid_input.unwrap();
        assert!(why.contains("expected struct"), "{why}");
    }

    #[test]
    fn good_inputs_are_unchanged_and_the_message_is_never_serialized() {
        let good: PaperToCodeInput =
            serde_json::from_str(r#"{"paper_id": "p", "review_rounds": 2}"#).unwrap();
        assert_eq!(good.invalid_input, None);
        assert_eq!(good.paper_id.as_deref(), Some("p"));
        assert_eq!(good.review_rounds, Some(2));
        let bad: PaperToCodeInput = serde_json::from_str(r#"{"paper_id": 5}"#).unwrap();
        let json = serde_json::to_string(&bad).unwrap();
        assert!(!json.contains("invalid"), "{json}");
        let back: PaperToCodeInput = serde_json::from_str(&json).unwrap();
        assert_eq!(back, PaperToCodeInput::default());
    }
}
