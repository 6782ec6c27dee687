//! Which projection the map shows (PCA on chosen axes, or t-SNE), the t-SNE run that forms
//! on a background thread, and where any latent vector lands on the current layout. Plain
//! state with no drawing.
//!
//! The t-SNE worker publishes snapshots into a shared slot (the newest one wins, older ones
//! are never shown) and wakes the UI; the engine itself sits behind a mutex that the worker
//! holds only while it steps, so the UI can place the current z between steps with
//! `try_lock` and never waits on it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::jobs::{Job, JobContext, JobEvent, Progress};
use super::map_job::LatentMap;
use crate::projection::{Tsne, TsneParams};

/// How the map lays out the samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectionChoice {
    /// PCA on components `x` and `y` (0 is PC1).
    Pca {
        /// The horizontal axis's component.
        x: usize,
        /// The vertical axis's component.
        y: usize,
    },
    /// t-SNE.
    Tsne,
}

impl Default for ProjectionChoice {
    fn default() -> Self {
        Self::Pca { x: 0, y: 1 }
    }
}

/// One published state of a t-SNE run.
#[derive(Debug, Clone)]
pub struct TsneSnapshot {
    /// Each sample's position; `None` for samples left out (non-finite latents).
    pub coords: Arc<Vec<Option<[f64; 2]>>>,
    /// Iterations done.
    pub iteration: usize,
    /// Iterations in the run.
    pub total: usize,
    /// The KL divergence at the last measurement, and at which iteration.
    pub kl: Option<(f64, usize)>,
    /// Seconds since the run started.
    pub elapsed_secs: f64,
}

/// What the worker and the UI share.
#[derive(Default)]
struct Shared {
    latest: Mutex<Option<TsneSnapshot>>,
    engine: Mutex<Option<Tsne>>,
    paused: AtomicBool,
}

/// A t-SNE run on the map's latents.
pub struct TsneRun {
    /// The parameters it runs with.
    pub params: TsneParams,
    /// Samples left out because their latent held NaN or infinity.
    pub left_out: usize,
    shared: Arc<Shared>,
    job: Option<Job<()>>,
    /// The newest snapshot taken from the worker.
    pub snapshot: Option<TsneSnapshot>,
    /// The preparation's progress (neighbours, affinities), until the first snapshot.
    pub progress: Option<Progress>,
    /// Why the run failed, if it did.
    pub error: Option<String>,
    /// Whether the worker has stopped (finished, failed or cancelled).
    pub stopped: bool,
    /// Bumped with every snapshot taken in, so placements know to refresh.
    pub version: u64,
}

/// How often the KL divergence is measured (it costs about one iteration).
const KL_EVERY: usize = 25;

/// About how long the worker holds the engine per lock, so the UI can place points between.
const STEP_BUDGET: Duration = Duration::from_millis(40);

impl TsneRun {
    /// Starts t-SNE on `map`'s latents on a thread called `tsne`.
    pub fn start(
        map: &LatentMap,
        params: TsneParams,
        wake: Arc<dyn Fn() + Send + Sync>,
    ) -> Result<Self, String> {
        // Only finite latents reach the engine; the others stay off the layout and are counted.
        let dim = map.dim;
        let kept: Vec<usize> = (0..map.len())
            .filter(|&i| map.mean(i).is_some_and(|z| z.iter().all(|v| v.is_finite())))
            .collect();
        let points: Vec<f32> = kept
            .iter()
            .filter_map(|&i| map.mean(i))
            .flatten()
            .copied()
            .collect();
        let rows = map.len();
        let left_out = rows - kept.len();

        let shared = Arc::new(Shared::default());
        let worker_shared = shared.clone();
        let worker_params = params.clone();
        let job = Job::spawn("tsne", 0, wake, move |cx| {
            run_worker(
                &points,
                dim,
                &kept,
                rows,
                &worker_params,
                &worker_shared,
                cx,
            )
        })
        .map_err(|e| format!("cannot start t-SNE: {e}"))?;
        Ok(Self {
            params,
            left_out,
            shared,
            job: Some(job),
            snapshot: None,
            progress: None,
            error: None,
            stopped: false,
            version: 0,
        })
    }

    /// Takes in the worker's news: the newest snapshot, progress, and how it ended.
    pub fn poll(&mut self) {
        if let Ok(mut latest) = self.shared.latest.lock()
            && let Some(snapshot) = latest.take()
        {
            self.snapshot = Some(snapshot);
            self.progress = None;
            self.version += 1;
        }
        let Some(job) = &mut self.job else {
            return;
        };
        for event in job.poll() {
            match event {
                JobEvent::Progress(p) if self.snapshot.is_none() => self.progress = Some(p),
                JobEvent::Progress(_) => {}
                JobEvent::Finished(result) => {
                    self.stopped = true;
                    self.progress = None;
                    if let Err(e) = result
                        && e != "cancelled"
                    {
                        self.error = Some(e);
                    }
                }
            }
        }
        if self.stopped {
            self.job = None;
        }
    }

    /// Pauses or resumes the worker.
    pub fn set_paused(&self, paused: bool) {
        self.shared.paused.store(paused, Ordering::Relaxed);
    }

    /// True while the worker is paused.
    pub fn is_paused(&self) -> bool {
        self.shared.paused.load(Ordering::Relaxed)
    }

    /// Stops the worker; the last snapshot stays on the map.
    pub fn cancel(&mut self) {
        if let Some(job) = self.job.take() {
            job.cancel();
        }
        self.stopped = true;
        self.progress = None;
    }

    /// True until the run has finished, failed or been cancelled.
    pub fn is_running(&self) -> bool {
        !self.stopped
    }

    /// Where `z` lands on the current layout, when the engine is free this instant; `None`
    /// while it is busy stepping, before it exists, or for a z it cannot place.
    pub fn try_place(&self, z: &[f32]) -> Option<[f64; 2]> {
        let engine = self.shared.engine.try_lock().ok()?;
        let [x, y] = engine.as_ref()?.place(z);
        (x.is_finite() && y.is_finite()).then_some([x, y])
    }
}

impl Drop for TsneRun {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// The worker: prepare, then step and publish until done or cancelled.
fn run_worker(
    points: &[f32],
    dim: usize,
    kept: &[usize],
    rows: usize,
    params: &TsneParams,
    shared: &Shared,
    cx: &JobContext<()>,
) -> Result<(), String> {
    let started = Instant::now();
    let prepared = Tsne::new(points, dim, params, &mut |stage, done, total| {
        cx.report(stage, done, total);
        if cx.is_cancelled() {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    })
    .map_err(|e| format!("t-SNE: {e}"))?;
    let Some(tsne) = prepared else {
        return Err("cancelled".into());
    };
    let total = tsne.params().iterations;
    let n = kept.len().max(1);
    if let Ok(mut engine) = shared.engine.lock() {
        *engine = Some(tsne);
    }

    // Steps per lock: about STEP_BUDGET of work, measured as the run goes.
    let mut steps = (20_000 / n).clamp(1, 25);
    let mut kl = None;
    loop {
        if cx.is_cancelled() {
            return Err("cancelled".into());
        }
        if shared.paused.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(30));
            continue;
        }

        let (iteration, coords, done) = {
            let mut guard = shared
                .engine
                .lock()
                .map_err(|_| "t-SNE worker state was poisoned")?;
            let Some(tsne) = guard.as_mut() else {
                return Err("t-SNE engine missing".into());
            };
            let before = Instant::now();
            tsne.step(steps);
            let spent = before.elapsed();
            if spent < STEP_BUDGET / 2 {
                steps = (steps * 2).min(50);
            } else if spent > STEP_BUDGET * 2 && steps > 1 {
                steps /= 2;
            }
            let iteration = tsne.iteration();
            let previous = kl.map_or(0, |(_, at)| at);
            if tsne.is_done() || iteration >= previous + KL_EVERY {
                kl = Some((tsne.kl_divergence(), iteration));
            }
            let mut coords = vec![None; rows];
            for (&row, &xy) in kept.iter().zip(tsne.coords()) {
                coords[row] = Some(xy);
            }
            (iteration, coords, tsne.is_done())
        };

        let snapshot = TsneSnapshot {
            coords: Arc::new(coords),
            iteration,
            total,
            kl,
            elapsed_secs: started.elapsed().as_secs_f64(),
        };
        if let Ok(mut latest) = shared.latest.lock() {
            *latest = Some(snapshot);
        }
        cx.report("t-SNE", iteration, total);
        if done {
            tracing::info!(
                secs = started.elapsed().as_secs_f64(),
                kl = kl.map_or(f64::NAN, |k| k.0),
                "t-SNE done"
            );
            return Ok(());
        }
    }
}

/// What the map draws: every sample's position and what the axes are.
#[derive(Debug, Clone)]
pub struct MapLayout {
    /// Each sample's position; `None` for samples left out.
    pub coords: Arc<Vec<Option<[f64; 2]>>>,
    /// The axes' labels.
    pub axes: [String; 2],
    /// True when latents other than the samples are placed approximately (t-SNE).
    pub approximate: bool,
}

/// Latents placed on the layout, cached until the layout or the latents change.
#[derive(Debug, Default)]
pub struct PlacementCache {
    key: Option<(u64, Vec<f32>)>,
    value: Option<[f64; 2]>,
    path_key: Option<(u64, u64)>,
    path: Vec<[f64; 2]>,
}

impl PlacementCache {
    /// The placement of `z` for layout version `layout`, computing it with `place` when the
    /// cache is stale; a failed placement keeps the previous value.
    pub fn point(
        &mut self,
        layout: u64,
        z: &[f32],
        place: impl Fn(&[f32]) -> Option<[f64; 2]>,
    ) -> Option<[f64; 2]> {
        let fresh = self
            .key
            .as_ref()
            .is_some_and(|(version, cached)| *version == layout && cached == z);
        if !fresh && let Some(value) = place(z) {
            self.key = Some((layout, z.to_vec()));
            self.value = Some(value);
        }
        self.value
    }

    /// The placements of a path's latents, keyed by layout version and path version.
    pub fn path(
        &mut self,
        layout: u64,
        path_version: u64,
        latents: &[Vec<f32>],
        place: impl Fn(&[f32]) -> Option<[f64; 2]>,
    ) -> &[[f64; 2]] {
        if self.path_key != Some((layout, path_version)) {
            let placed: Option<Vec<[f64; 2]>> = latents.iter().map(|z| place(z)).collect();
            if let Some(placed) = placed {
                self.path = placed;
                self.path_key = Some((layout, path_version));
            } else if latents.is_empty() {
                self.path.clear();
            }
        }
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_placement_is_reused_until_the_layout_or_z_changes() {
        let mut cache = PlacementCache::default();
        let calls = std::cell::Cell::new(0);
        let place = |z: &[f32]| {
            calls.set(calls.get() + 1);
            Some([f64::from(z[0]), 0.0])
        };
        assert_eq!(cache.point(1, &[2.0], place), Some([2.0, 0.0]));
        assert_eq!(cache.point(1, &[2.0], place), Some([2.0, 0.0]));
        assert_eq!(calls.get(), 1);
        assert_eq!(cache.point(2, &[2.0], place), Some([2.0, 0.0]));
        assert_eq!(cache.point(2, &[3.0], place), Some([3.0, 0.0]));
        assert_eq!(calls.get(), 3);
        // A busy engine keeps the last placement on screen.
        assert_eq!(cache.point(3, &[4.0], |_| None), Some([3.0, 0.0]));
    }
}
