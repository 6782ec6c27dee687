//! The disentanglement lab: which dimensions the sliders show and in what order, the
//! traversal grid, the map coloured by a known factor, and the metrics job.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::ExplorerApp;
use crate::analysis::traversal_latents;
use crate::app::command::{ColorBy, Tool};
use crate::app::jobs::{Job, JobEvent};
use crate::app::panels::map_view::ColorValues;
use crate::app::{Command, Notice};
use crate::latent::metrics::{MetricReport, MetricSettings};

/// Dimensions below this mean KL (nats) count as collapsed to the prior.
pub const ACTIVE_KL: f64 = 0.01;

/// The shortest time between two rebuilds of the traversal grid while z moves.
const TRAVERSAL_THROTTLE: Duration = Duration::from_millis(120);

/// The traversal grid around the current z.
pub struct TraversalView {
    /// Each row spans ±range.
    pub range: f32,
    /// Columns per row.
    pub steps: usize,
    /// The dimension of each row.
    pub rows: Vec<usize>,
    /// The decoded cells, row after row.
    pub decoded: Vec<Vec<f32>>,
    /// Bumped when `decoded` changes, for textures.
    pub version: u64,
    /// Where *Export PNG* writes.
    pub export_path: String,
    built_for: Option<(Vec<f32>, Vec<usize>, f32, usize)>,
    built_at: Option<Instant>,
}

impl Default for TraversalView {
    fn default() -> Self {
        Self {
            range: 3.0,
            steps: 9,
            rows: Vec::new(),
            decoded: Vec::new(),
            version: 0,
            export_path: "traversal.png".into(),
            built_for: None,
            built_at: None,
        }
    }
}

/// The disentanglement metrics and their job.
#[derive(Default)]
pub struct MetricsView {
    /// The last report.
    pub report: Option<MetricReport>,
    /// The settings it was computed with.
    pub settings: Option<MetricSettings>,
    /// The running job.
    pub job: Option<Job<MetricReport>>,
    /// Seconds the last computation took.
    pub elapsed_secs: f64,
    started: Option<Instant>,
}

impl ExplorerApp {
    /// Commands of the lab: slider view, traversal, metrics.
    pub(super) fn apply_lab_command(&mut self, command: Command, ctx: &egui::Context) {
        match command {
            Command::SetSliderView {
                sort_by_kl,
                hide_inactive,
            } => {
                self.settings.sort_by_kl = sort_by_kl;
                self.settings.hide_inactive = hide_inactive;
            }
            Command::SetTraversal { range, steps } => {
                self.traversal.range = range.clamp(0.1, 10.0);
                self.traversal.steps = steps.clamp(2, 25);
            }
            Command::ExportTraversal(path) => self.export_traversal(path),
            Command::ComputeMetrics { train_points } => self.start_metrics(train_points, ctx),
            Command::CancelMetrics => {
                if let Some(job) = self.metrics.job.take() {
                    job.cancel();
                    self.progress = None;
                }
            }
            _ => {}
        }
    }

    /// The dimensions the sliders show, in order: all of them, or sorted by KL and without the
    /// collapsed ones when the user asks and the KL is known.
    pub fn visible_dims(&self) -> Vec<usize> {
        let dim = self.point.z.len();
        let Some(units) = self.map().and_then(|m| m.units.as_ref()) else {
            return (0..dim).collect();
        };
        let mut dims: Vec<usize> = if self.settings.sort_by_kl {
            units.by_kl()
        } else {
            (0..dim).collect()
        };
        if self.settings.hide_inactive {
            dims.retain(|&d| units.kl.get(d).is_some_and(|&kl| kl >= ACTIVE_KL));
        }
        dims
    }

    /// What the map can be coloured by, with a name for each: the class, every known factor,
    /// and every anomaly score once computed.
    pub fn color_choices(&self) -> Vec<(ColorBy, String)> {
        let mut choices = vec![(ColorBy::Class, "class".to_owned())];
        if let Some(factors) = &self.session.dataset.factors {
            for (k, name) in factors.names.iter().enumerate() {
                choices.push((ColorBy::Factor(k), format!("factor: {name}")));
            }
        }
        if self.anomaly.scores.is_some() {
            for score in crate::latent::Score::ALL {
                choices.push((ColorBy::Score(score), format!("score: {}", score.label())));
            }
        }
        choices
    }

    /// What colours the map, worked out into one value per sample.
    pub(super) fn color_values(&self) -> Option<ColorValues> {
        match self.color_by {
            ColorBy::Class => None,
            ColorBy::Score(score) => {
                let scores = self.anomaly.scores.as_ref()?;
                Some(ColorValues {
                    label: score.label().to_owned(),
                    values: scores.of(score).to_vec(),
                    range: None,
                })
            }
            ColorBy::Factor(k) => {
                let factors = self.session.dataset.factors.as_ref()?;
                let size = *factors.sizes.get(k)?;
                Some(ColorValues {
                    label: factors.names.get(k)?.clone(),
                    values: factors.column(k),
                    range: Some((0.0, size.saturating_sub(1).max(1) as f64)),
                })
            }
        }
    }

    /// Decodes the traversal grid again when it shows and z, the rows or the settings changed,
    /// at most every [`TRAVERSAL_THROTTLE`].
    pub(super) fn update_traversal(&mut self, ctx: &egui::Context) {
        if self.tool != Tool::Traversal {
            return;
        }
        let rows = self.visible_dims();
        let z = self.point.effective();
        let key = (
            z.clone(),
            rows.clone(),
            self.traversal.range,
            self.traversal.steps,
        );
        if self.traversal.built_for.as_ref() == Some(&key) {
            return;
        }
        if let Some(at) = self.traversal.built_at
            && at.elapsed() < TRAVERSAL_THROTTLE
        {
            ctx.request_repaint_after(TRAVERSAL_THROTTLE);
            return;
        }
        let latents = traversal_latents(&z, &rows, self.traversal.range, self.traversal.steps);
        let flat: Vec<f32> = latents.iter().flatten().copied().collect();
        match self.session.model.decode_for_display(&flat) {
            Ok(decoded) => {
                self.traversal.decoded = decoded;
                self.traversal.rows = rows;
                self.traversal.version += 1;
            }
            Err(e) => self.error(format!("decoding the traversal grid failed: {e}")),
        }
        self.traversal.built_for = Some(key);
        self.traversal.built_at = Some(Instant::now());
    }

    fn export_traversal(&mut self, path: PathBuf) {
        let t = &self.traversal;
        if t.decoded.is_empty() {
            self.warn("nothing to export: open the Traversal tool first".into());
            return;
        }
        let shape = self.session.model.spec().image_shape();
        let path = path.with_extension("png");
        match crate::data::export::write_grid_png(&path, &t.decoded, t.rows.len(), shape, 2) {
            Ok(()) => self.notices.push(Notice {
                is_error: false,
                text: format!(
                    "wrote \"{}\": {} rows (dimensions) × {} columns, from −{} to {}",
                    path.display(),
                    t.rows.len(),
                    t.steps,
                    t.range,
                    t.range
                ),
            }),
            Err(e) => self.error(e.to_string()),
        }
    }

    /// Why the metrics cannot be computed for the open model, or `None` when they can.
    pub fn metrics_unavailable(&self) -> Option<String> {
        let spec = self.session.model.spec();
        if !spec.kind.has_encoder() {
            return Some("the metrics measure an encoder, and this model has none".into());
        }
        let side = crate::data::sprites::SIDE;
        if spec.input_shape != [1, side, side] {
            let [c, h, w] = spec.input_shape;
            return Some(format!(
                "the metrics need the sprites' known factors, and this model takes {c}×{h}×{w} images, not the sprites' 1×{side}×{side}"
            ));
        }
        None
    }

    fn start_metrics(&mut self, train_points: usize, ctx: &egui::Context) {
        if let Some(reason) = self.metrics_unavailable() {
            self.warn(reason);
            return;
        }
        let settings = MetricSettings {
            train_points,
            eval_points: (train_points / 2).max(1),
            variance_points: train_points,
            ..MetricSettings::default()
        };
        let model = self.session.model.clone();
        let job_settings = settings.clone();
        let repaint = ctx.clone();
        let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(move || repaint.request_repaint());
        let job = Job::spawn("metrics", 0, wake, move |cx| {
            crate::analysis::evaluate_sprites(&model, &job_settings, &mut |stage, done, total| {
                cx.report(stage, done, total);
                if cx.is_cancelled() {
                    std::ops::ControlFlow::Break(())
                } else {
                    std::ops::ControlFlow::Continue(())
                }
            })?
            .ok_or_else(|| "cancelled".to_owned())
        });
        match job {
            Ok(job) => {
                self.metrics.job = Some(job);
                self.metrics.settings = Some(settings);
                self.metrics.started = Some(Instant::now());
            }
            Err(e) => self.error(format!("cannot start the metrics: {e}")),
        }
    }

    /// Takes in the metrics job's news.
    pub(super) fn poll_metrics(&mut self) {
        let Some(job) = &mut self.metrics.job else {
            return;
        };
        let mut finished = None;
        for event in job.poll() {
            match event {
                JobEvent::Progress(p) => self.progress = Some(p),
                JobEvent::Finished(result) => finished = Some(result),
            }
        }
        let Some(result) = finished else {
            return;
        };
        self.metrics.job = None;
        self.progress = None;
        self.metrics.elapsed_secs = self
            .metrics
            .started
            .map_or(0.0, |s| s.elapsed().as_secs_f64());
        match result {
            Ok(report) => {
                tracing::info!(
                    mig = report.mig,
                    secs = self.metrics.elapsed_secs,
                    "metrics done"
                );
                self.metrics.report = Some(report);
            }
            Err(e) if e == "cancelled" => {}
            Err(e) => self.error(format!("the metrics failed: {e}")),
        }
    }

    /// True while the metrics are being computed.
    pub fn is_measuring(&self) -> bool {
        self.metrics.job.is_some()
    }

    /// The traversal grid shown in the Traversal tool.
    pub fn traversal(&self) -> &TraversalView {
        &self.traversal
    }

    /// The last disentanglement report.
    pub fn metrics_report(&self) -> Option<&MetricReport> {
        self.metrics.report.as_ref()
    }
}
