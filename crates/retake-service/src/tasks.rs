//! RunAPI's task surface over the shared service: a task is a generation shown in RunAPI's
//! shape. Creating one goes through [`Service::submit`] like every surface (same checks,
//! credits, idempotency, queue and webhooks); only the catalogue's RunAPI models are accepted.

use crate::catalogue::Surface;
use crate::domain::{
    rfc3339_ms, ModifyVideoRequest, State, Task, TaskError, TaskInput, TaskOutput, TaskRequest,
    TaskStatus,
};
use crate::error::Result;
use crate::service::Service;
use crate::store::{CreditState, GenerationRecord, KeyRecord};

/// What a task create did.
#[derive(Clone, Debug)]
pub struct TaskSubmission {
    /// The task.
    pub task: Task,
    /// True when an idempotency key matched an earlier create: nothing new was made.
    pub replayed: bool,
}

impl Service {
    /// Where a task is polled.
    pub(crate) fn task_url(&self, id: &str) -> String {
        format!("{}/api/v1/tasks/{id}", self.base_url)
    }

    /// A generation in RunAPI's task shape (with a fresh signed video link once completed).
    pub fn task_view(&self, g: &GenerationRecord) -> Task {
        let request =
            serde_json::from_str::<ModifyVideoRequest>(&g.request_json).unwrap_or_default();
        let status = match g.state {
            State::Queued => TaskStatus::Pending,
            State::Dreaming => TaskStatus::Processing,
            State::Completed => TaskStatus::Completed,
            State::Failed => TaskStatus::Failed,
        };
        let error = (g.state == State::Failed).then(|| TaskError {
            code: g
                .failure_code
                .map(|c| c.as_str())
                .unwrap_or("processing")
                .to_string(),
            message: g
                .failure_reason
                .clone()
                .unwrap_or_else(|| "the task failed without a reason".into()),
        });
        let output = self.video_link(g).map(|(url, expires)| TaskOutput {
            video_url: url,
            expires_at: rfc3339_ms(expires.saturating_mul(1000)),
        });
        Task {
            task_id: g.id.clone(),
            model: g.model.clone(),
            status,
            progress: if g.state == State::Completed {
                100
            } else {
                g.progress
            },
            error,
            output,
            cost: g.cost.as_f64(),
            credit_state: match g.credit_state {
                CreditState::Reserved => "reserved",
                CreditState::Charged => "charged",
                CreditState::Released => "released",
            }
            .into(),
            input: TaskInput::from(&request),
            poll_url: self.task_url(&g.id),
            created_at: rfc3339_ms(g.created_at),
            updated_at: rfc3339_ms(g.updated_at),
        }
    }

    /// Creates a task: the body is read into the shared modify-video request and submitted
    /// on the RunAPI surface (its models and their prices).
    pub async fn submit_task(
        &self,
        caller: &KeyRecord,
        body: TaskRequest,
        idempotency_key: Option<&str>,
    ) -> Result<TaskSubmission> {
        let request = body.into_modify()?;
        let s = self
            .submit(caller, Surface::RunApi, request, idempotency_key)
            .await?;
        Ok(TaskSubmission {
            task: self.task_view(&s.record),
            replayed: s.replayed,
        })
    }

    /// One of the caller's generations as a task (whichever surface made it).
    pub async fn task(&self, caller: &KeyRecord, id: &str) -> Result<Task> {
        Ok(self.task_view(&self.record(caller, id).await?))
    }

    /// Cancels a pending or processing task of the caller's: it fails with a reason saying
    /// so, its credits are released and a worker running it stops.
    pub async fn cancel_task(&self, caller: &KeyRecord, id: &str) -> Result<Task> {
        Ok(self.task_view(&self.cancel_record(caller, id).await?))
    }
}
