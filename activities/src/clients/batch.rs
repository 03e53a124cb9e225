//! Bedrock batch inference: the control-plane calls (`CreateModelInvocationJob`,
//! `GetModelInvocationJob`, `StopModelInvocationJob`) behind [`BatchJobs`], the real one over `aws-sdk-bedrock`, and the
//! JSONL records of a Converse-type job: `{"recordId", "modelInput"}` in, where `modelInput` is
//! a Converse request body, and `{"recordId", "modelInput", "modelOutput" | "error"}` out, where
//! `modelOutput` is a Converse response body. Bedrock writes the output of `<input>.jsonl` as
//! `<output prefix>/<job id>/<input>.jsonl.out`.

use async_trait::async_trait;
use aws_sdk_bedrock::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_bedrock::types::{
    ModelInvocationJobInputDataConfig, ModelInvocationJobOutputDataConfig,
    ModelInvocationJobS3InputDataConfig, ModelInvocationJobS3OutputDataConfig,
    ModelInvocationJobStatus, ModelInvocationType,
};
use serde_json::{Value, json};

use crate::clients::llm::{LlmRequest, Role};

/// Any error, as the SDK gives it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A job to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// Its name (unique in the account).
    pub name: String,
    /// The idempotency token: a second create with the same token returns the same job.
    pub client_token: String,
    /// Model or inference-profile id.
    pub model: String,
    /// The IAM service role Bedrock assumes.
    pub role_arn: String,
    /// The input JSONL, `s3://…`.
    pub input_uri: String,
    /// The output prefix, `s3://…/`.
    pub output_uri: String,
    /// Hours before the job expires.
    pub timeout_hours: u32,
}

/// How a job stands.
#[derive(Debug, Clone, PartialEq)]
pub struct JobState {
    /// Bedrock's status word.
    pub status: String,
    /// The service's message (why it failed, for instance).
    pub message: Option<String>,
}

impl JobState {
    /// True once the job will not change any more.
    pub fn done(&self) -> bool {
        matches!(
            self.status.as_str(),
            "Completed" | "PartiallyCompleted" | "Failed" | "Stopped" | "Expired"
        )
    }

    /// True when it ended with output to read.
    pub fn has_output(&self) -> bool {
        matches!(self.status.as_str(), "Completed" | "PartiallyCompleted")
    }
}

/// What went wrong with a control-plane call.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The service answered with an error (`ValidationException`, `AccessDeniedException`, …).
    #[error("Bedrock refused {operation}: {code}: {message}")]
    Refused {
        /// The operation.
        operation: &'static str,
        /// The error's type.
        code: String,
        /// Its message.
        message: String,
    },
    /// No answer (network, timeout).
    #[error("{operation} got no answer: {source}")]
    Transport {
        /// The operation.
        operation: &'static str,
        /// Why.
        #[source]
        source: BoxError,
    },
}

impl BatchError {
    /// Worth retrying: throttling, the service's own failures, no answer.
    pub fn is_retryable(&self) -> bool {
        match self {
            BatchError::Refused { code, .. } => matches!(
                code.as_str(),
                "ThrottlingException" | "InternalServerException" | "ServiceUnavailableException"
            ),
            BatchError::Transport { .. } => true,
        }
    }
}

/// Bedrock's batch inference jobs.
#[async_trait]
pub trait BatchJobs: Send + Sync {
    /// Creates `job`; its ARN.
    async fn create(&self, job: &NewJob) -> Result<String, BatchError>;
    /// How the job `arn` stands.
    async fn get(&self, arn: &str) -> Result<JobState, BatchError>;
    /// Stops the job `arn`.
    async fn stop(&self, arn: &str) -> Result<(), BatchError>;
    /// True when the endpoint is the stand-in (answers are templates).
    fn standin(&self) -> bool;
}

/// The real one: the AWS SDK's Bedrock control-plane client.
pub struct BedrockBatch {
    client: aws_sdk_bedrock::Client,
    standin: bool,
}

impl BedrockBatch {
    /// Wraps a configured SDK client; `standin` says the endpoint is the stand-in.
    pub fn new(client: aws_sdk_bedrock::Client, standin: bool) -> Self {
        Self { client, standin }
    }
}

fn classify<E, R>(operation: &'static str, e: SdkError<E, R>) -> BatchError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match &e {
        SdkError::ServiceError(s) => BatchError::Refused {
            operation,
            code: s.err().code().unwrap_or("Unknown").to_owned(),
            message: s.err().message().unwrap_or_default().to_owned(),
        },
        _ => BatchError::Transport {
            operation,
            source: Box::new(e),
        },
    }
}

#[async_trait]
impl BatchJobs for BedrockBatch {
    async fn create(&self, job: &NewJob) -> Result<String, BatchError> {
        let input = ModelInvocationJobS3InputDataConfig::builder()
            .s3_uri(&job.input_uri)
            .build()
            .map_err(|e| BatchError::Transport {
                operation: "CreateModelInvocationJob",
                source: Box::new(e),
            })?;
        let output = ModelInvocationJobS3OutputDataConfig::builder()
            .s3_uri(&job.output_uri)
            .build()
            .map_err(|e| BatchError::Transport {
                operation: "CreateModelInvocationJob",
                source: Box::new(e),
            })?;
        let out = self
            .client
            .create_model_invocation_job()
            .job_name(&job.name)
            .client_request_token(&job.client_token)
            .model_id(&job.model)
            .role_arn(&job.role_arn)
            .model_invocation_type(ModelInvocationType::Converse)
            .input_data_config(ModelInvocationJobInputDataConfig::S3InputDataConfig(input))
            .output_data_config(ModelInvocationJobOutputDataConfig::S3OutputDataConfig(
                output,
            ))
            .timeout_duration_in_hours(job.timeout_hours as i32)
            .send()
            .await
            .map_err(|e| classify("CreateModelInvocationJob", e))?;
        Ok(out.job_arn().to_owned())
    }

    async fn get(&self, arn: &str) -> Result<JobState, BatchError> {
        let out = self
            .client
            .get_model_invocation_job()
            .job_identifier(arn)
            .send()
            .await
            .map_err(|e| classify("GetModelInvocationJob", e))?;
        Ok(JobState {
            status: out
                .status()
                .map(ModelInvocationJobStatus::as_str)
                .unwrap_or("Unknown")
                .to_owned(),
            message: out.message().map(str::to_owned),
        })
    }

    async fn stop(&self, arn: &str) -> Result<(), BatchError> {
        self.client
            .stop_model_invocation_job()
            .job_identifier(arn)
            .send()
            .await
            .map_err(|e| classify("StopModelInvocationJob", e))?;
        Ok(())
    }

    fn standin(&self) -> bool {
        self.standin
    }
}

/// One input record: `request` as a Converse request body (a batch has no prompt cache, so no
/// cache point).
pub fn record(record_id: &str, request: &LlmRequest) -> Value {
    let messages: Vec<Value> = request
        .messages
        .iter()
        .map(|(role, text)| {
            json!({
                "role": if *role == Role::User { "user" } else { "assistant" },
                "content": [ { "text": text } ],
            })
        })
        .collect();
    json!({
        "recordId": record_id,
        "modelInput": {
            "system": [ { "text": request.system } ],
            "messages": messages,
            "inferenceConfig": {
                "maxTokens": request.max_tokens,
                "temperature": request.temperature,
            },
        },
    })
}

/// A record's answer, as the output line gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordAnswer {
    /// The answer's text.
    pub text: String,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// True when it stopped at the token limit.
    pub truncated: bool,
}

/// One output line: the record id and its answer, or what went wrong with it. `None` for a line
/// that is not an output record at all.
pub fn output_record(line: &str) -> Option<(String, Result<RecordAnswer, String>)> {
    let v: Value = serde_json::from_str(line).ok()?;
    let id = v["recordId"].as_str()?.to_owned();
    if let Some(error) = v.get("error") {
        let why = match (error["errorCode"].as_u64(), error["errorMessage"].as_str()) {
            (Some(code), Some(m)) => format!("{code}: {m}"),
            _ => error.to_string(),
        };
        return Some((id, Err(why)));
    }
    let out = &v["modelOutput"];
    let text: Option<String> = out["output"]["message"]["content"].as_array().map(|a| {
        a.iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("")
    });
    let answer = match text {
        Some(text) => Ok(RecordAnswer {
            text,
            input_tokens: out["usage"]["inputTokens"].as_u64().unwrap_or(0),
            output_tokens: out["usage"]["outputTokens"].as_u64().unwrap_or(0),
            truncated: out["stopReason"] == "max_tokens",
        }),
        None => Err("the record has neither modelOutput with a message nor error".to_owned()),
    };
    Some((id, answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_converse_bodies_and_outputs_parse() {
        let request = LlmRequest::single("m".into(), ("sys".into(), "user".into()), 1500, 0.2);
        let r = record("R0000000001", &request);
        assert_eq!(r["recordId"], "R0000000001");
        assert_eq!(r["modelInput"]["system"][0]["text"], "sys");
        assert_eq!(r["modelInput"]["messages"][0]["role"], "user");
        assert_eq!(r["modelInput"]["messages"][0]["content"][0]["text"], "user");
        assert_eq!(r["modelInput"]["inferenceConfig"]["maxTokens"], 1500);

        let ok = r#"{"recordId":"R1","modelInput":{},"modelOutput":{"output":{"message":{"role":"assistant","content":[{"text":"a"},{"text":"b"}]}},"stopReason":"end_turn","usage":{"inputTokens":10,"outputTokens":3}}}"#;
        let (id, answer) = output_record(ok).unwrap();
        assert_eq!(id, "R1");
        let answer = answer.unwrap();
        assert_eq!((answer.text.as_str(), answer.input_tokens), ("ab", 10));
        assert!(!answer.truncated);
        let failed = r#"{"recordId":"R2","modelInput":{},"error":{"errorCode":400,"errorMessage":"bad request"}}"#;
        assert_eq!(
            output_record(failed).unwrap().1.unwrap_err(),
            "400: bad request"
        );
        assert!(output_record("not json").is_none());
        assert!(output_record(r#"{"no":"id"}"#).is_none());
    }
}
