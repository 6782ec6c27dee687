//! The application: state, the one place commands are applied, and the frame layout.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::Command;
use super::jobs::{Job, JobEvent, Progress};
use super::map_job::{LatentMap, build_map};
use super::panels::latent_panel::latent_panel_ui;
use super::panels::map_view::{MapState, MapView};
use super::panels::preview::{PreviewTextures, preview_ui};
use super::panels::status_bar::status_bar_ui;
use super::screenshot::ScreenshotTask;
use super::session::{LatentPoint, Session};
use crate::latent::Rng;

/// Settings the user chooses; kept apart from runtime state so they can be saved as they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Sliders span `±slider_limit` standard deviations of the prior.
    pub slider_limit: f32,
    /// Seed of the *Random* button's generator.
    pub random_seed: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            slider_limit: 4.0,
            random_seed: 0,
        }
    }
}

/// A message for the user, shown until dismissed.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// True for errors, false for warnings.
    pub is_error: bool,
    /// The text.
    pub text: String,
}

/// The latent explorer window.
pub struct ExplorerApp {
    settings: Settings,
    session: Session,
    point: LatentPoint,
    map: MapState,
    map_job: Option<Job<LatentMap>>,
    map_generation: u64,
    progress: Option<Progress>,
    map_view: MapView,
    preview: PreviewTextures,
    rng: Rng,
    notices: Vec<Notice>,
    commands: Vec<Command>,
    screenshot: Option<ScreenshotTask>,
    /// False until the first frame has started the map's background work.
    map_requested: bool,
    /// A dataset sample to pick as soon as the map is ready.
    pick_when_ready: Option<usize>,
}

impl ExplorerApp {
    /// Opens `session`; its map starts building in the background on the first frame.
    pub fn new(session: Session, settings: Settings) -> Self {
        let point = LatentPoint::origin(&session.decoder);
        let rng = Rng::new(settings.random_seed);
        Self {
            settings,
            session,
            point,
            map: MapState::Building,
            map_job: None,
            map_generation: 0,
            progress: None,
            map_view: MapView::default(),
            preview: PreviewTextures::default(),
            rng,
            notices: Vec::new(),
            commands: Vec::new(),
            screenshot: None,
            map_requested: false,
            pick_when_ready: None,
        }
    }

    /// Makes the app save a screenshot once the map is ready, then close the window.
    pub fn with_screenshot(mut self, task: ScreenshotTask) -> Self {
        self.screenshot = Some(task);
        self
    }

    /// Picks dataset sample `idx` as soon as the map is ready, as a click on it would.
    pub fn pick_when_map_ready(&mut self, idx: usize) {
        self.pick_when_ready = Some(idx);
    }

    /// The current latent vector.
    pub fn z(&self) -> &[f32] {
        &self.point.z
    }

    /// The decoder's output for the current z.
    pub fn decoded(&self) -> &[f32] {
        &self.point.decoded
    }

    /// The dataset sample the current z came from, if any.
    pub fn picked_sample(&self) -> Option<usize> {
        self.point.sample
    }

    /// The finished map, if the background work is done.
    pub fn map(&self) -> Option<&LatentMap> {
        match &self.map {
            MapState::Ready(map) => Some(map),
            _ => None,
        }
    }

    /// True while the map's background work runs.
    pub fn is_building_map(&self) -> bool {
        matches!(self.map, MapState::Building)
    }

    /// Number of samples drawn on the map (0 until it is ready).
    pub fn map_point_count(&self) -> usize {
        self.map()
            .map_or(0, |m| m.pca.coords.iter().flatten().count())
    }

    /// Where sample `idx` was drawn in the last frame, in screen points.
    pub fn sample_screen_position(&self, idx: usize) -> Option<egui::Pos2> {
        self.map_view.screen_position(self.map()?, idx)
    }

    /// The sample under the pointer in the last frame.
    pub fn hovered_sample(&self) -> Option<usize> {
        self.map_view.hovered()
    }

    /// Messages shown to the user.
    pub fn notices(&self) -> &[Notice] {
        &self.notices
    }

    fn start_map_job(&mut self, ctx: &egui::Context) {
        self.map_requested = true;
        self.map_generation += 1;
        let model = self.session.model.clone();
        let dataset = self.session.dataset.clone();
        let repaint = ctx.clone();
        let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(move || repaint.request_repaint());

        let job = Job::spawn("map-builder", self.map_generation, wake, move |cx| {
            build_map(&model, &dataset, cx)
        });
        match job {
            Ok(job) => {
                self.map = MapState::Building;
                self.map_job = Some(job);
            }
            Err(e) => {
                let message = format!("cannot start the background worker: {e}");
                tracing::error!("{message}");
                self.map = MapState::Failed(message);
            }
        }
    }

    /// Takes in whatever the background job sent since the last frame.
    fn poll_map_job(&mut self) {
        let Some(job) = &mut self.map_job else {
            return;
        };
        let stale = job.generation() != self.map_generation;
        for event in job.poll() {
            if stale {
                continue;
            }
            match event {
                JobEvent::Progress(progress) => self.progress = Some(progress),
                JobEvent::Finished(Ok(map)) => {
                    self.map = MapState::Ready(Arc::new(map));
                    self.progress = None;
                }
                JobEvent::Finished(Err(message)) => {
                    self.progress = None;
                    if matches!(self.map, MapState::Cancelled) {
                        continue;
                    }
                    tracing::error!("{message}");
                    self.notices.push(Notice {
                        is_error: true,
                        text: message.clone(),
                    });
                    self.map = MapState::Failed(message);
                }
            }
        }
        if stale || !self.is_building_map() {
            self.map_job = None;
        }
    }

    /// Applies every queued command; the only place that changes state in response to the UI.
    fn apply_commands(&mut self, ctx: &egui::Context) {
        for command in std::mem::take(&mut self.commands) {
            tracing::trace!(?command, "apply");
            let decoder = &self.session.decoder;
            match command {
                Command::SetLatent { dim, value } => self.point.set(dim, value, decoder),
                Command::ResetDimension(dim) => self.point.set(dim, 0.0, decoder),
                Command::ResetAll => {
                    let origin = vec![0.0; self.point.z.len()];
                    self.point.set_all(&origin, None, decoder);
                }
                Command::Randomize => {
                    let limit = self.settings.slider_limit;
                    self.point.randomize(&mut self.rng, limit, decoder);
                }
                Command::PickSample(idx) => {
                    if let MapState::Ready(map) = &self.map
                        && let Some(mean) = map.mean(idx)
                    {
                        self.point.set_all(mean, Some(idx), decoder);
                    }
                }
                Command::CancelMapJob => {
                    if let Some(job) = self.map_job.take() {
                        job.cancel();
                        self.map = MapState::Cancelled;
                        self.progress = None;
                    }
                }
                Command::RebuildMap => self.start_map_job(ctx),
                Command::DismissNotice(idx) => {
                    if idx < self.notices.len() {
                        self.notices.remove(idx);
                    }
                }
            }
        }
    }

    /// Draws one frame into `ui` (the whole window) and applies what the user did.
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if !self.map_requested {
            self.start_map_job(&ctx);
        }
        self.poll_map_job();
        if let (Some(idx), MapState::Ready(_)) = (self.pick_when_ready, &self.map) {
            self.pick_when_ready = None;
            self.commands.push(Command::PickSample(idx));
        }

        egui::Panel::bottom("status_bar").show(ui, |ui| {
            status_bar_ui(
                ui,
                &self.session,
                &self.point,
                self.progress.as_ref(),
                &mut self.commands,
            );
        });
        if !self.notices.is_empty() {
            egui::Panel::top("notices").show(ui, |ui| {
                notices_ui(ui, &self.notices, &mut self.commands);
            });
        }
        egui::Panel::left("latent_panel")
            .resizable(true)
            .default_size(300.0)
            .show(ui, |ui| {
                latent_panel_ui(
                    ui,
                    &self.point,
                    self.settings.slider_limit,
                    &mut self.commands,
                );
            });

        // Slider moves are applied before the preview is drawn, so it shows them this frame.
        self.apply_commands(&ctx);

        egui::Panel::right("preview")
            .resizable(true)
            .default_size(300.0)
            .show(ui, |ui| {
                preview_ui(ui, &mut self.preview, &self.session, &self.point);
            });
        egui::CentralPanel::default_margins().show(ui, |ui| {
            self.map_view.ui(
                ui,
                &self.map,
                &self.session,
                &self.point,
                &mut self.commands,
            );
        });

        // A pick on the map changes the preview; draw once more to show it.
        if !self.commands.is_empty() {
            self.apply_commands(&ctx);
            ctx.request_repaint();
        }

        let map_done = !self.is_building_map();
        if let Some(task) = &mut self.screenshot {
            task.step(&ctx, map_done);
        }
    }
}

impl eframe::App for ExplorerApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.frame_ui(ui);
    }
}

/// Errors and warnings, each with a button to dismiss it.
fn notices_ui(ui: &mut egui::Ui, notices: &[Notice], commands: &mut Vec<Command>) {
    for (idx, notice) in notices.iter().enumerate() {
        ui.horizontal(|ui| {
            let color = if notice.is_error {
                ui.visuals().error_fg_color
            } else {
                ui.visuals().warn_fg_color
            };
            ui.colored_label(color, &notice.text);
            if ui.small_button("Dismiss").clicked() {
                commands.push(Command::DismissNotice(idx));
            }
        });
    }
}
