//! Applying the commands of the anomaly and augmentation tools.

use std::path::PathBuf;
use std::sync::Arc;

use super::{ExplorerApp, Notice};
use crate::app::Command;
use crate::app::anomaly::{CheckedImage, DatasetScores, check_image, score_dataset};
use crate::app::jobs::{Job, JobEvent};
use crate::data::export::write_variations;
use crate::latent::{Score, gaussian_around};

/// The anomaly tool's state.
#[derive(Default)]
pub struct AnomalyView {
    /// The dataset's scores, once computed.
    pub scores: Option<Arc<DatasetScores>>,
    /// The score the histogram, threshold and gallery use.
    pub score: Option<Score>,
    /// The threshold as a percentile, 0 … 100.
    pub percentile: f32,
    /// The last image checked.
    pub checked: Option<CheckedImage>,
    /// Background scoring.
    pub job: Option<Job<DatasetScores>>,
    checks: u64,
}

impl AnomalyView {
    /// The chosen score (the reconstruction error until the user picks another).
    pub fn score(&self) -> Score {
        self.score.unwrap_or(Score::Reconstruction)
    }

    /// Samples above the threshold, highest first; empty until the scores exist.
    pub fn above_threshold(&self) -> Vec<usize> {
        self.scores.as_ref().map_or_else(Vec::new, |s| {
            s.above(self.score(), s.threshold(self.score(), self.percentile))
        })
    }
}

/// Variations around z, decoded.
#[derive(Default)]
pub struct Variations {
    /// Their latents.
    pub latents: Vec<Vec<f32>>,
    /// Their images.
    pub decoded: Vec<Vec<f32>>,
    /// Bumped for each new set.
    pub version: u64,
}

impl ExplorerApp {
    /// Commands of the anomaly and augmentation tools.
    pub(super) fn apply_tool_command(&mut self, command: Command, ctx: &egui::Context) {
        match command {
            Command::ShowTool(tool) => self.tool = tool,
            Command::ScoreDataset => self.start_scoring(ctx),
            Command::ColorMapBy(color) => self.color_by = color,
            Command::ChooseScore(score) => self.anomaly.score = Some(score),
            Command::SetPercentile(p) => self.anomaly.percentile = p.clamp(0.0, 100.0),
            Command::ExportAnomalies(path) => self.export_anomalies(path),
            Command::CheckImage(path) => self.check_image_file(path),
            Command::BrowseImage => self.open_dialog(super::DialogPurpose::CheckImage, ctx),
            Command::GenerateVariations {
                count,
                sigma,
                along_path,
            } => self.generate_variations(count, sigma, along_path),
            Command::WriteVariations(dir) => self.write_variations_to(dir),
            _ => {}
        }
    }

    fn start_scoring(&mut self, ctx: &egui::Context) {
        if !self.session.model.has_encoder() {
            self.warn(format!(
                "anomaly scores need an encoder, and the open model is a {}",
                self.session.model.spec().kind.description()
            ));
            return;
        }
        let model = self.session.model.clone();
        let dataset = self.session.dataset.clone();
        let repaint = ctx.clone();
        let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(move || repaint.request_repaint());
        match Job::spawn("anomaly-scores", 0, wake, move |cx| {
            score_dataset(&model, &dataset, cx)
        }) {
            Ok(job) => self.anomaly.job = Some(job),
            Err(e) => self.error(format!("cannot start scoring: {e}")),
        }
    }

    /// Takes in the scoring job's and the file dialog's news.
    pub(super) fn poll_tool_jobs(&mut self) {
        if let Some(job) = &mut self.anomaly.job {
            for event in job.poll() {
                match event {
                    JobEvent::Progress(p) => self.progress = Some(p),
                    JobEvent::Finished(result) => {
                        self.anomaly.job = None;
                        self.progress = None;
                        match result {
                            Ok(scores) => {
                                self.anomaly.scores = Some(Arc::new(scores));
                                if self.anomaly.percentile == 0.0 {
                                    self.anomaly.percentile = 99.0;
                                }
                            }
                            Err(e) => self.error(e),
                        }
                        break;
                    }
                }
            }
        }
    }

    fn check_image_file(&mut self, path: PathBuf) {
        if !self.session.model.has_encoder() {
            self.warn(format!(
                "\"{}\": checking an image needs an encoder, and the open model is a {}",
                path.display(),
                self.session.model.spec().kind.description()
            ));
            return;
        }
        let Some(scores) = self.anomaly.scores.clone() else {
            self.warn(format!(
                "\"{}\": score the dataset first (Anomalies → Score the dataset), so the image has something to be compared with",
                path.display()
            ));
            return;
        };
        self.anomaly.checks += 1;
        match check_image(&path, &self.session.model, &scores, self.anomaly.checks) {
            Ok(checked) => {
                tracing::info!(image = checked.name, "image checked");
                self.anomaly.checked = Some(checked);
                self.tool = crate::app::Tool::Anomalies;
            }
            Err(message) => self.warn(message),
        }
    }

    fn export_anomalies(&mut self, path: PathBuf) {
        let Some(scores) = &self.anomaly.scores else {
            return;
        };
        let score = self.anomaly.score();
        let mut text = String::from("index,label");
        for s in Score::ALL {
            text.push(',');
            text.push_str(s.key());
        }
        text.push('\n');
        let labels = &self.session.dataset.labels;
        for idx in self.anomaly.above_threshold() {
            text.push_str(&format!("{idx},{}", labels.get(idx).copied().unwrap_or(0)));
            for s in Score::ALL {
                text.push_str(&format!(
                    ",{}",
                    scores.of(s).get(idx).copied().unwrap_or(f64::NAN)
                ));
            }
            text.push('\n');
        }
        match crate::files::write_atomically(&path, text.as_bytes()) {
            Ok(()) => self.notices.push(Notice {
                is_error: false,
                text: format!(
                    "wrote \"{}\": the samples above the {:.1}th percentile of {}",
                    path.display(),
                    self.anomaly.percentile,
                    score.label()
                ),
            }),
            Err(e) => self.error(format!("cannot write \"{}\": {e}", path.display())),
        }
    }

    fn generate_variations(&mut self, count: usize, sigma: f32, along_path: bool) {
        let count = count.clamp(1, 256);
        self.variation_seed += 1;
        let mut rng = crate::rng::Rng::new(self.variation_seed);
        let latents = if along_path && !self.interpolation.latents.is_empty() {
            // Points spread evenly along the path, each jittered by σ.
            (0..count)
                .filter_map(|k| {
                    let t = if count == 1 {
                        0.5
                    } else {
                        k as f32 / (count - 1) as f32
                    };
                    let centre = self.interpolation.at(t)?;
                    gaussian_around(&centre, 1, sigma, &mut rng).pop()
                })
                .collect()
        } else {
            gaussian_around(&self.point.effective(), count, sigma.max(0.0), &mut rng)
        };
        let decoder = &self.session.decoder;
        self.variations.decoded = latents.iter().map(|z| decoder.decode(z)).collect();
        self.variations.latents = latents;
        self.variations.version += 1;
    }

    fn write_variations_to(&mut self, dir: PathBuf) {
        let shape = self.session.model.spec().image_shape();
        let result = write_variations(
            &dir,
            &self.variations.decoded,
            &self.variations.latents,
            shape,
            1,
        );
        match result {
            Ok(written) => {
                let first = written
                    .first()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                self.notices.push(Notice {
                    is_error: false,
                    text: format!(
                        "wrote {} images and their z to \"{}\" (from \"{first}\")",
                        written.len().saturating_sub(1),
                        dir.display()
                    ),
                });
            }
            Err(e) => self.error(e.to_string()),
        }
    }
}
