//! StopBatchInference: `StopModelInvocationJob` for a job whose batch was cancelled, so that
//! Bedrock does not go on answering (and billing) records nobody will read.

use crate::prelude::*;

/// StopBatchInference: stops the job; one that has already ended (Bedrock refuses to stop it)
/// is left as it is.
pub async fn stop_batch_inference(d: Call<'_>, input: BatchJobRef) -> Out<()> {
    let Some(jobs) = d.batch.clone() else {
        return Ok(());
    };
    match jobs.stop(&input.job_arn).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_retryable() => Err(transient("BatchInferenceUnavailable", e.to_string())),
        Err(e) => {
            tracing::warn!(job = %input.job_arn, error = %e, "the batch inference job was not stopped");
            Ok(())
        }
    }
}
