//! CheckBatchInference: how a Bedrock batch inference job stands (`GetModelInvocationJob`).

use crate::prelude::*;

/// CheckBatchInference: the job's status; whether it is over, and with output to read.
pub async fn check_batch_inference(d: Call<'_>, input: BatchJobRef) -> Out<BatchJobStatus> {
    let Some(jobs) = d.batch.clone() else {
        return Err(permanent(
            "BatchInferenceUnavailable",
            "this worker has no Bedrock batch inference client",
        ));
    };
    let state = jobs.get(&input.job_arn).await.map_err(|e| {
        if e.is_retryable() {
            transient("BatchInferenceUnavailable", e.to_string())
        } else {
            permanent("BatchInferenceRefused", e.to_string())
        }
    })?;
    Ok(BatchJobStatus {
        done: state.done(),
        has_output: state.has_output(),
        status: state.status,
        message: state.message,
    })
}
