//! Reading the proto3 JSON of a workflow history (`temporal workflow show --output json`, the Web
//! UI's download) with the Temporal API's own descriptors (prost-reflect), then decoding it into
//! the SDK's types.

use anyhow::Context;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use temporalio_common::protos::temporal::api::history::v1::History;

static DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/temporal_descriptors.bin"));

/// Parses proto3 JSON of `temporal.api.history.v1.History`.
pub fn history_from_proto_json(json: &[u8]) -> anyhow::Result<History> {
    let pool =
        DescriptorPool::decode(DESCRIPTORS).context("reading the Temporal API descriptors")?;
    let descriptor = pool
        .get_message_by_name("temporal.api.history.v1.History")
        .context("the descriptors lack temporal.api.history.v1.History")?;
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let message = DynamicMessage::deserialize(descriptor, &mut deserializer)
        .context("the JSON is not a Temporal history in proto3 JSON")?;
    deserializer
        .end()
        .context("trailing data after the history")?;
    History::decode(message.encode_to_vec().as_slice()).context("decoding the history")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cli_style_json() {
        let json = br#"{"events": [{"eventId": "1", "eventTime": "2026-01-01T00:00:00Z",
            "eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED", "taskId": "5",
            "workflowExecutionStartedEventAttributes": {"workflowType": {"name": "PaperToCode"},
            "taskQueue": {"name": "annapurna", "kind": "TASK_QUEUE_KIND_NORMAL"},
            "workflowTaskTimeout": "10s", "attempt": 1}}]}"#;
        let history = history_from_proto_json(json).unwrap();
        assert_eq!(history.events.len(), 1);
        assert_eq!(history.events[0].event_id, 1);
        assert_eq!(history.events[0].task_id, 5);
        assert_eq!(history.events[0].event_type, 1);
        assert!(history_from_proto_json(b"{\"events\": 3}").is_err());
    }
}
