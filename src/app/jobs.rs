//! Background jobs: long work on a named thread that reports progress, can be cancelled, and
//! wakes the UI when it has news.
//!
//! Each job carries the generation number of the request that started it. The app keeps the
//! generation it currently wants; events from any other generation are stale and dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::thread::JoinHandle;

/// How far a job has come.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// What the job is doing now, e.g. `encoding`.
    pub stage: String,
    /// Units done in this stage.
    pub done: usize,
    /// Units in this stage.
    pub total: usize,
}

impl Progress {
    /// Done as a fraction in `[0, 1]`.
    pub fn fraction(&self) -> f32 {
        if self.total == 0 {
            0.0
        } else {
            (self.done as f32 / self.total as f32).clamp(0.0, 1.0)
        }
    }
}

/// What a job sends back.
#[derive(Debug)]
pub enum JobEvent<T> {
    /// A progress report.
    Progress(Progress),
    /// The job ended with its result or a message saying why it failed.
    Finished(Result<T, String>),
}

/// Handed to the work function: report progress and check for cancellation through it.
pub struct JobContext<T> {
    sender: Sender<JobEvent<T>>,
    cancel: Arc<AtomicBool>,
    wake: Arc<dyn Fn() + Send + Sync>,
}

impl<T> JobContext<T> {
    /// Sends a progress report and wakes the UI.
    pub fn report(&self, stage: &str, done: usize, total: usize) {
        let progress = Progress {
            stage: stage.to_owned(),
            done,
            total,
        };
        if self.sender.send(JobEvent::Progress(progress)).is_ok() {
            (self.wake)();
        }
    }

    /// True once the job's owner has asked it to stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// A running (or finished) job. Dropping it cancels the work.
pub struct Job<T> {
    generation: u64,
    receiver: Receiver<JobEvent<T>>,
    cancel: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl<T: Send + 'static> Job<T> {
    /// Starts `work` on a thread called `name`; `wake` is called after every event it sends
    /// (the app passes a repaint request).
    pub fn spawn(
        name: &str,
        generation: u64,
        wake: Arc<dyn Fn() + Send + Sync>,
        work: impl FnOnce(&JobContext<T>) -> Result<T, String> + Send + 'static,
    ) -> std::io::Result<Self> {
        let (sender, receiver) = channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let context = JobContext {
            sender,
            cancel: cancel.clone(),
            wake,
        };

        let thread_name = name.to_owned();
        let thread = std::thread::Builder::new()
            .name(thread_name.clone())
            .spawn(move || {
                let started = std::time::Instant::now();
                let result = work(&context);
                match &result {
                    Ok(_) => tracing::debug!(
                        job = thread_name,
                        secs = started.elapsed().as_secs_f64(),
                        "job finished"
                    ),
                    Err(e) => tracing::debug!(job = thread_name, error = e, "job failed"),
                }
                if context.sender.send(JobEvent::Finished(result)).is_ok() {
                    (context.wake)();
                }
            })?;
        Ok(Self {
            generation,
            receiver,
            cancel,
            thread: Some(thread),
        })
    }
}

impl<T> Job<T> {
    /// The generation of the request that started this job.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Asks the work to stop at its next check.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Every event that has arrived since the last poll, oldest first. A thread that ended
    /// without sending its result (it panicked) is reported as a failure.
    pub fn poll(&mut self) -> Vec<JobEvent<T>> {
        let mut events = Vec::new();
        loop {
            match self.receiver.try_recv() {
                Ok(event) => events.push(event),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    let finished = events.iter().any(|e| matches!(e, JobEvent::Finished(_)));
                    if !finished && self.thread.take().is_some() {
                        events.push(JobEvent::Finished(Err(
                            "the background worker stopped unexpectedly".into(),
                        )));
                    }
                    break;
                }
            }
        }
        events
    }
}

impl<T> Drop for Job<T> {
    fn drop(&mut self) {
        // The thread notices at its next check and ends on its own; nobody waits for it.
        self.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn no_wake() -> Arc<dyn Fn() + Send + Sync> {
        Arc::new(|| {})
    }

    fn wait_for_result<T>(job: &mut Job<T>) -> (Vec<Progress>, Result<T, String>) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut progress = Vec::new();
        while Instant::now() < deadline {
            for event in job.poll() {
                match event {
                    JobEvent::Progress(p) => progress.push(p),
                    JobEvent::Finished(result) => return (progress, result),
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        (progress, Err("timed out".into()))
    }

    #[test]
    fn a_job_reports_progress_then_its_result() {
        let mut job = Job::spawn("test-job", 1, no_wake(), |cx| {
            for i in 1..=3 {
                cx.report("counting", i, 3);
            }
            Ok(42)
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let (progress, result) = wait_for_result(&mut job);
        assert_eq!(result, Ok(42));
        assert_eq!(progress.len(), 3);
        assert_eq!(progress[2].fraction(), 1.0);
        assert_eq!(job.generation(), 1);
    }

    #[test]
    fn cancelling_is_seen_by_the_work() {
        let mut job = Job::spawn("test-cancel", 1, no_wake(), |cx| {
            let deadline = Instant::now() + Duration::from_secs(30);
            while !cx.is_cancelled() {
                if Instant::now() > deadline {
                    return Ok("never cancelled");
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Err("cancelled".to_owned())
        })
        .unwrap_or_else(|e| panic!("{e}"));
        job.cancel();
        let (_, result) = wait_for_result(&mut job);
        assert_eq!(result, Err("cancelled".to_owned()));
    }

    #[test]
    fn a_panicking_worker_is_reported_as_a_failure() {
        let mut job: Job<()> = Job::spawn("test-panic", 1, no_wake(), |_| {
            panic!("deliberate panic in a test worker")
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let (_, result) = wait_for_result(&mut job);
        assert_eq!(
            result,
            Err("the background worker stopped unexpectedly".to_owned())
        );
    }
}
