//! The application: state, the one place commands are applied, and the frame layout.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use std::path::PathBuf;

mod lab;
mod open;
mod projection;
mod tools;

pub use lab::{ACTIVE_KL, MetricsView, TraversalView};
pub use open::{DialogPurpose, Opening};
pub use projection::ProjectionView;
pub use tools::{AnomalyView, Variations};

use super::Command;
use super::command::{EndSource, ExportKind, Tool};
use super::interpolation::{Endpoint, Interpolation};
use super::jobs::{Job, JobEvent, Progress};
use super::map_job::{LatentMap, build_map};
use super::panels::anomaly_panel::{AnomalyTextures, anomaly_panel_ui};
use super::panels::augment_panel::{AugmentDrafts, VariationTextures, augment_panel_ui};
use super::panels::interpolation_panel::{StripTextures, interpolation_panel_ui};
use super::panels::latent_panel::latent_panel_ui;
use super::panels::library_panel::{LibraryTextures, library_panel_ui};
use super::panels::map_view::MapOverlay;
use super::panels::map_view::{MapState, MapView};
use super::panels::preview::{PreviewTextures, preview_ui};
use super::panels::status_bar::status_bar_ui;
use super::screenshot::ScreenshotTask;
use super::session::{LatentPoint, Session};
use crate::data::export::{write_gif, write_latents_csv, write_strip_png};
use std::ops::RangeInclusive;

use super::command::ColorBy;
use super::loader::OpenItem;
use super::map_job::DimStats;
use super::panels::latent_panel::SliderLayout;
use super::panels::menu_bar::menu_bar_ui;
use super::panels::metrics_panel::metrics_panel_ui;
use super::panels::model_panel::model_panel_ui;
use super::panels::projection_bar::projection_bar_ui;
use super::panels::traversal_panel::{TraversalTextures, traversal_panel_ui};
use super::projection::MapLayout;
use super::recent::RecentFiles;
use crate::latent::library::{data_dir, library_path};
use crate::latent::{
    AttributeVector, Bookmark, Library, Rng, add_scaled, analogy, attribute_vector,
};

/// Settings the user chooses; kept apart from runtime state so they can be saved as they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Sliders span `±slider_limit` standard deviations of the prior.
    pub slider_limit: f32,
    /// Seed of the *Random* button's generator.
    pub random_seed: u64,
    /// Order the sliders by each dimension's KL, most used first.
    #[serde(default)]
    pub sort_by_kl: bool,
    /// Hide the sliders of dimensions whose KL is below 0.01 nats.
    #[serde(default)]
    pub hide_inactive: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            slider_limit: 4.0,
            random_seed: 0,
            sort_by_kl: false,
            hide_inactive: false,
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

/// Text the user is typing and choices not yet acted on; owned by the panels that draw them.
#[derive(Debug, Clone, Default)]
pub struct Drafts {
    /// Name for the next bookmark.
    pub bookmark_name: String,
    /// The bookmark being renamed and its new name.
    pub renaming: Option<(usize, String)>,
    /// Where exports go (the extension is replaced by each export's own).
    pub export_path: String,
    /// Attribute vector: the class to move away from.
    pub from_class: u32,
    /// Attribute vector: the class to move towards.
    pub to_class: u32,
    /// Name for the next attribute vector.
    pub vector_name: String,
    /// Where the list of anomalies goes.
    pub anomaly_path: String,
}

impl Drafts {
    /// Keeps the attribute vector's classes among the dataset's `count` classes: when either
    /// is out of range (a dataset with fewer classes was opened), they become the first two.
    pub fn fit_classes(&mut self, count: usize) {
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        if count > 0 && (self.from_class >= count || self.to_class >= count) {
            self.from_class = 0;
            self.to_class = 1.min(count - 1);
        }
    }
}

/// The attribute vector applied to the preview, and how strongly.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttributeState {
    /// Index into the library's vectors.
    pub selected: Option<usize>,
    /// Multiplier, −2 … 2.
    pub strength: f32,
}

/// The analogy A − B + C: three bookmarks and the decoded inputs and result.
#[derive(Debug, Clone, Default)]
pub struct Analogy {
    /// Bookmark indices for A, B and C.
    pub slots: [Option<usize>; 3],
    /// A − B + C, once all three are set.
    pub result: Option<Vec<f32>>,
    /// Decoded A, B, C and the result (empty until all three are set).
    pub decoded: Vec<Vec<f32>>,
    /// Bumped whenever `decoded` changes.
    pub version: u64,
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
    /// Commands to apply as soon as the map is ready.
    when_map_ready: Vec<Command>,
    interpolation: Interpolation,
    strip_textures: StripTextures,
    library: Library,
    library_path: Option<PathBuf>,
    library_textures: LibraryTextures,
    attribute: AttributeState,
    analogy: Analogy,
    drafts: Drafts,
    export_job: Option<Job<PathBuf>>,
    tool: Tool,
    anomaly: AnomalyView,
    anomaly_textures: AnomalyTextures,
    variations: Variations,
    variation_seed: u64,
    variation_textures: VariationTextures,
    augment_drafts: AugmentDrafts,
    /// Where bookmarks and recent files are kept; `None` when no home folder is known.
    library_dir: Option<PathBuf>,
    recent: RecentFiles,
    /// A checkpoint or dataset being opened.
    opening: Option<Opening>,
    load_progress: Option<Progress>,
    /// The system file dialog, while it is open, and what its answer is for.
    dialog: Option<(DialogPurpose, Job<Option<PathBuf>>)>,
    /// PCA axes or t-SNE, and the t-SNE run.
    projection: ProjectionView,
    /// The layout drawn in the last frame, and where the current z landed on it.
    shown_layout: Option<MapLayout>,
    shown_current: Option<[f64; 2]>,
    /// What colours the map.
    color_by: ColorBy,
    traversal: TraversalView,
    traversal_textures: TraversalTextures,
    metrics: MetricsView,
}

impl ExplorerApp {
    /// Opens `session`; its map starts building in the background on the first frame.
    pub fn new(session: Session, settings: Settings) -> Self {
        Self::with_data_dir(session, settings, data_dir())
    }

    /// Opens `session`, keeping bookmarks and recent files under `dir`.
    fn with_data_dir(session: Session, settings: Settings, dir: Option<PathBuf>) -> Self {
        let point = LatentPoint::origin(&session.decoder);
        let rng = Rng::new(settings.random_seed);
        let mut app = Self {
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
            when_map_ready: Vec::new(),
            interpolation: Interpolation::default(),
            strip_textures: StripTextures::default(),
            library: Library::default(),
            library_path: None,
            library_textures: LibraryTextures::default(),
            attribute: AttributeState::default(),
            analogy: Analogy::default(),
            drafts: Drafts {
                export_path: "interpolation.png".into(),
                anomaly_path: "anomalies.csv".into(),
                from_class: 5,
                to_class: 7,
                ..Drafts::default()
            },
            export_job: None,
            tool: Tool::default(),
            anomaly: AnomalyView::default(),
            anomaly_textures: AnomalyTextures::default(),
            variations: Variations::default(),
            variation_seed: 0,
            variation_textures: VariationTextures::default(),
            augment_drafts: AugmentDrafts::default(),
            library_dir: dir.clone(),
            recent: RecentFiles::default(),
            opening: None,
            load_progress: None,
            dialog: None,
            projection: ProjectionView::default(),
            shown_layout: None,
            shown_current: None,
            color_by: ColorBy::Class,
            traversal: TraversalView::default(),
            traversal_textures: TraversalTextures::default(),
            metrics: MetricsView::default(),
        };
        app.drafts.fit_classes(app.session.dataset.class_count());
        app.open_library(dir);
        app.load_recent();
        app
    }

    /// Keeps bookmarks, attribute vectors and recent files under `dir` (default: [`data_dir`])
    /// instead, loading what is there.
    pub fn with_library_dir(mut self, dir: PathBuf) -> Self {
        self.library_dir = Some(dir.clone());
        self.open_library(Some(dir));
        self.load_recent();
        self
    }

    /// The open model, dataset and how they were read.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// True while a checkpoint or dataset is being opened.
    pub fn is_opening(&self) -> bool {
        self.opening.is_some()
    }

    /// The recently opened files.
    pub fn recent(&self) -> &RecentFiles {
        &self.recent
    }

    fn open_library(&mut self, dir: Option<PathBuf>) {
        let fingerprint = match self.session.model.fingerprint() {
            Ok(f) => f,
            Err(e) => {
                self.warn(format!(
                    "bookmarks are off: cannot fingerprint the model: {e}"
                ));
                return;
            }
        };
        let Some(dir) = dir else {
            self.warn("bookmarks are kept for this session only: no home folder is known".into());
            return;
        };
        let path = library_path(&dir, fingerprint);
        match Library::load(&path) {
            Ok(mut library) => {
                let dropped = library.keep_dimension(self.session.latent_dim());
                if dropped > 0 {
                    self.warn(format!(
                        "{dropped} bookmarks of another latent size were ignored"
                    ));
                }
                tracing::debug!(path = %path.display(), bookmarks = library.bookmarks.len(), "library loaded");
                self.library = library;
                self.library_path = Some(path);
            }
            Err(e) => {
                // The broken file is left alone; nothing is saved over it this session.
                self.warn(format!(
                    "{e}; bookmarks made now are kept for this session only"
                ));
                self.library = Library::default();
                self.library_path = None;
            }
        }
    }

    fn save_library(&mut self) {
        let Some(path) = &self.library_path else {
            return;
        };
        if let Err(e) = self.library.save(path) {
            let message = format!("{e}; the bookmarks stay in memory");
            tracing::warn!("{message}");
            self.notices.push(Notice {
                is_error: false,
                text: message,
            });
        }
    }

    fn warn(&mut self, text: String) {
        tracing::warn!("{text}");
        self.notices.push(Notice {
            is_error: false,
            text,
        });
    }

    fn error(&mut self, text: String) {
        tracing::error!("{text}");
        self.notices.push(Notice {
            is_error: true,
            text,
        });
    }

    /// The interpolation's endpoints and strip.
    pub fn interpolation(&self) -> &Interpolation {
        &self.interpolation
    }

    /// The bookmarks and attribute vectors kept for this model.
    pub fn library(&self) -> &Library {
        &self.library
    }

    /// The z that the preview shows: the sliders' z plus any attribute offset.
    pub fn effective_z(&self) -> Vec<f32> {
        self.point.effective()
    }

    /// The analogy's inputs and result.
    pub fn analogy(&self) -> &Analogy {
        &self.analogy
    }

    /// The anomaly tool's scores, threshold and checked image.
    pub fn anomalies(&self) -> &AnomalyView {
        &self.anomaly
    }

    /// The variations generated around z.
    pub fn variations(&self) -> &Variations {
        &self.variations
    }

    /// True while an export is being written.
    pub fn is_exporting(&self) -> bool {
        self.export_job.is_some()
    }

    /// Makes the app save a screenshot once the map is ready, then close the window.
    pub fn with_screenshot(mut self, task: ScreenshotTask) -> Self {
        self.screenshot = Some(task);
        self
    }

    /// Applies `commands` as soon as the map is ready, as if the user had given them then.
    pub fn when_map_ready(&mut self, commands: Vec<Command>) {
        self.when_map_ready.extend(commands);
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
        self.map().map_or(0, |m| m.pca.coords.len() - m.pca.skipped)
    }

    /// The layout the map drew in the last frame.
    pub fn shown_layout(&self) -> Option<&MapLayout> {
        self.shown_layout.as_ref()
    }

    /// Where the current z was drawn on the map in the last frame.
    pub fn current_marker(&self) -> Option<[f64; 2]> {
        self.shown_current
    }

    /// The projection chosen and the t-SNE run, if any.
    pub fn projection(&self) -> &ProjectionView {
        &self.projection
    }

    /// Where sample `idx` was drawn in the last frame, in screen points.
    pub fn sample_screen_position(&self, idx: usize) -> Option<egui::Pos2> {
        self.map_view
            .screen_position(self.shown_layout.as_ref()?, idx)
    }

    /// The sample under the pointer in the last frame.
    pub fn hovered_sample(&self) -> Option<usize> {
        self.map_view.hovered()
    }

    /// The spread of each code dimension, for a plain autoencoder once its map is ready.
    fn code_stats(&self) -> Option<Vec<DimStats>> {
        let model = &self.session.model;
        if !model.has_encoder() || model.is_variational() {
            return None;
        }
        self.map().map(|m| m.stats.clone())
    }

    /// Each slider's range and what *Random* draws from: ±the prior's limit, or for a plain
    /// autoencoder the range of the dataset's codes widened by a tenth on each side.
    pub fn slider_ranges(&self) -> (Vec<RangeInclusive<f32>>, &'static str) {
        let limit = self.settings.slider_limit;
        match self.code_stats() {
            Some(stats) => {
                let ranges = stats
                    .iter()
                    .map(|d| {
                        let pad = (0.1 * (d.max - d.min)).max(1e-3);
                        (d.min - pad)..=(d.max + pad)
                    })
                    .collect();
                (
                    ranges,
                    "Draw each code from the dataset's mean and spread of that dimension",
                )
            }
            None => (
                vec![-limit..=limit; self.point.z.len()],
                "Draw z from the N(0, I) prior",
            ),
        }
    }

    /// Messages shown to the user.
    pub fn notices(&self) -> &[Notice] {
        &self.notices
    }

    /// Files dropped on the window: model files are opened, images checked, datasets opened;
    /// anything else is explained.
    fn take_dropped_files(&mut self, ctx: &egui::Context) {
        let dropped = ctx.input(|i| i.raw.dropped_files.clone());
        for file in dropped {
            let path = file.path().to_path_buf();
            if path.as_os_str().is_empty() {
                self.warn("a file was dropped without a path; save it to a file first".into());
                continue;
            }
            let extension = path
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_lowercase);
            let command = match extension.as_deref() {
                _ if path.is_dir() => Command::Open(OpenItem::Dataset(path)),
                Some("png" | "jpg" | "jpeg") => Command::CheckImage(path),
                Some("safetensors" | "pt" | "pth" | "bin") => {
                    Command::Open(OpenItem::Checkpoint(path))
                }
                Some("gz" | "ubyte") => Command::Open(OpenItem::Dataset(path)),
                _ if path.to_string_lossy().contains("idx3-ubyte") => {
                    Command::Open(OpenItem::Dataset(path))
                }
                _ => {
                    self.warn(format!(
                        "\"{}\": drop a model file (.safetensors, .pt, .pth, .bin), a dataset (IDX file or image folder) or a PNG/JPEG image to check",
                        path.display()
                    ));
                    continue;
                }
            };
            self.commands.push(command);
        }
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
                    // A generator's prior samples stand in for the dataset from now on.
                    if let Some(samples) = &map.samples {
                        self.session.dataset = samples.clone();
                    }
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
                Command::Randomize => match self.code_stats() {
                    // A plain autoencoder has no prior: draw from its codes' spread instead.
                    Some(stats) => {
                        let z: Vec<f32> = stats
                            .iter()
                            .map(|d| (d.mean + d.std * self.rng.normal()).clamp(d.min, d.max))
                            .collect();
                        self.point.set_all(&z, None, decoder);
                    }
                    None => {
                        let limit = self.settings.slider_limit;
                        self.point.randomize(&mut self.rng, limit, decoder);
                    }
                },
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
                other => self.apply_exploration_command(other, ctx),
            }
        }
    }

    /// Commands of the interpolation, bookmark, attribute and analogy tools.
    fn apply_exploration_command(&mut self, command: Command, ctx: &egui::Context) {
        let decoder = &self.session.decoder;
        match command {
            Command::SetEnd(end, source) => {
                if let Some(endpoint) = self.endpoint_from(source) {
                    self.interpolation.set_end(end, endpoint, decoder);
                }
            }
            Command::SetSteps(steps) => self.interpolation.set_steps(steps, decoder),
            Command::SetPathMethod(method) => self.interpolation.set_method(method, decoder),
            Command::TogglePlay => self.interpolation.toggle_play(),
            Command::SetPlayMode(mode) => self.interpolation.mode = mode,
            Command::SetPlaySpeed(speed) => {
                self.interpolation.frames_per_sec = speed.clamp(0.25, 30.0);
            }
            Command::GoToFrame(k) => {
                if let Some(z) = self.interpolation.latents.get(k).cloned() {
                    let span = (self.interpolation.latents.len().max(2) - 1) as f32;
                    self.interpolation.t = k as f32 / span;
                    self.point.set_all(&z, None, decoder);
                }
            }
            Command::Export(kind, path) => self.start_export(kind, path, ctx),
            Command::AddBookmark(name) => {
                let name = match name.trim() {
                    "" => format!("bookmark {}", self.library.bookmarks.len() + 1),
                    trimmed => trimmed.to_owned(),
                };
                self.library.bookmarks.push(Bookmark {
                    name,
                    z: self.point.effective(),
                });
                self.drafts.bookmark_name.clear();
                self.save_library();
            }
            Command::RenameBookmark(idx, name) => {
                if let Some(bookmark) = self.library.bookmarks.get_mut(idx)
                    && !name.trim().is_empty()
                {
                    bookmark.name = name.trim().to_owned();
                    self.save_library();
                }
            }
            Command::DeleteBookmark(idx) if idx < self.library.bookmarks.len() => {
                self.library.bookmarks.remove(idx);
                self.analogy = Analogy::default();
                self.save_library();
            }
            Command::GoToBookmark(idx) => {
                if let Some(bookmark) = self.library.bookmarks.get(idx) {
                    let z = bookmark.z.clone();
                    self.point.set_all(&z, None, decoder);
                }
            }
            Command::ComputeAttribute { from, to, name } => self.compute_attribute(from, to, name),
            Command::SelectAttribute(selected) => {
                self.attribute.selected = selected.filter(|&i| i < self.library.vectors.len());
                self.update_shift();
            }
            Command::SetStrength(strength) => {
                self.attribute.strength = strength.clamp(-2.0, 2.0);
                self.update_shift();
            }
            Command::ApplyAttribute => {
                self.point.apply_shift(decoder);
                self.attribute.strength = 0.0;
            }
            Command::DeleteAttribute(idx) if idx < self.library.vectors.len() => {
                self.library.vectors.remove(idx);
                self.attribute = AttributeState::default();
                self.update_shift();
                self.save_library();
            }
            Command::SetAnalogySlot { slot, bookmark } => {
                if let Some(target) = self.analogy.slots.get_mut(slot) {
                    *target = Some(bookmark);
                    self.update_analogy();
                }
            }
            Command::UseAnalogy => {
                if let Some(z) = self.analogy.result.clone() {
                    self.point.set_all(&z, None, decoder);
                }
            }
            Command::Open(_) | Command::Browse(_) | Command::CancelOpen => {
                self.apply_open_command(command, ctx);
            }
            Command::ChooseProjection(_)
            | Command::RestartTsne
            | Command::PauseTsne(_)
            | Command::CancelTsne => self.apply_projection_command(command, ctx),
            Command::SetSliderView { .. }
            | Command::SetTraversal { .. }
            | Command::ExportTraversal(_)
            | Command::ComputeMetrics { .. }
            | Command::CancelMetrics => self.apply_lab_command(command, ctx),
            other => self.apply_tool_command(other, ctx),
        }
    }

    fn endpoint_from(&self, source: EndSource) -> Option<Endpoint> {
        match source {
            EndSource::Current => Some(Endpoint {
                label: match self.point.sample {
                    Some(idx) if !self.point.is_shifted() => format!("sample #{idx}"),
                    _ => "sliders".to_owned(),
                },
                z: self.point.effective(),
            }),
            EndSource::Sample(idx) => Some(Endpoint {
                label: format!("sample #{idx}"),
                z: self.map()?.mean(idx)?.to_vec(),
            }),
            EndSource::Bookmark(idx) => {
                let bookmark = self.library.bookmarks.get(idx)?;
                Some(Endpoint {
                    label: format!("bookmark \"{}\"", bookmark.name),
                    z: bookmark.z.clone(),
                })
            }
        }
    }

    fn compute_attribute(&mut self, from: u32, to: u32, name: String) {
        let dataset = &self.session.dataset;
        let vector = match &self.map {
            MapState::Ready(map) => {
                attribute_vector(&map.means, &dataset.labels, map.dim, from, to)
            }
            _ => {
                self.warn(
                    "attribute vectors need the map: wait until encoding has finished".into(),
                );
                return;
            }
        };
        match vector {
            Ok(v) => {
                let name = match name.trim() {
                    "" => format!("{} − {}", dataset.class_name(to), dataset.class_name(from)),
                    named => named.to_owned(),
                };
                self.drafts.vector_name.clear();
                self.library.vectors.push(AttributeVector { name, v });
                self.attribute.selected = Some(self.library.vectors.len() - 1);
                self.attribute.strength = 1.0;
                self.update_shift();
                self.save_library();
            }
            Err(e) => self.warn(format!("cannot make the attribute vector: {e}")),
        }
    }

    /// Recomputes the preview's offset from the chosen attribute vector and strength.
    fn update_shift(&mut self) {
        let dim = self.point.z.len();
        let zero = vec![0.0; dim];
        let vector = self
            .attribute
            .selected
            .and_then(|i| self.library.vectors.get(i));
        let shift = match vector {
            Some(vector) => add_scaled(&zero, &vector.v, self.attribute.strength).unwrap_or(zero),
            None => zero,
        };
        self.point.set_shift(&shift, &self.session.decoder);
    }

    fn update_analogy(&mut self) {
        let decoder = &self.session.decoder;
        let bookmark = |slot: Option<usize>| slot.and_then(|i| self.library.bookmarks.get(i));
        let [a, b, c] = self.analogy.slots.map(bookmark);
        self.analogy.version += 1;
        let (Some(a), Some(b), Some(c)) = (a, b, c) else {
            self.analogy.result = None;
            self.analogy.decoded.clear();
            return;
        };
        match analogy(&a.z, &b.z, &c.z) {
            Ok(result) => {
                self.analogy.decoded = [&a.z, &b.z, &c.z, &result]
                    .iter()
                    .map(|z| decoder.decode(z))
                    .collect();
                self.analogy.result = Some(result);
            }
            Err(e) => {
                self.analogy.result = None;
                self.analogy.decoded.clear();
                self.warn(format!("cannot form the analogy: {e}"));
            }
        }
    }

    fn start_export(&mut self, kind: ExportKind, path: PathBuf, ctx: &egui::Context) {
        if self.interpolation.latents.is_empty() {
            self.warn("nothing to export: choose both ends of the interpolation first".into());
            return;
        }
        let path = path.with_extension(kind.extension());
        let latents = self.interpolation.latents.clone();
        let decoded = self.interpolation.decoded.clone();
        let shape = self.session.model.spec().image_shape();
        let delay_ms = (1000.0 / self.interpolation.frames_per_sec.max(0.25)) as u32;
        let repaint = ctx.clone();
        let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(move || repaint.request_repaint());

        let job = Job::spawn("export", 0, wake, move |_| {
            let result = match kind {
                ExportKind::Strip => write_strip_png(&path, &decoded, shape, 4),
                ExportKind::Gif => write_gif(&path, &decoded, shape, 4, delay_ms),
                ExportKind::Csv => write_latents_csv(&path, &latents),
            };
            result.map(|()| path).map_err(|e| e.to_string())
        });
        match job {
            Ok(job) => self.export_job = Some(job),
            Err(e) => self.error(format!("cannot start the export: {e}")),
        }
    }

    fn poll_export_job(&mut self) {
        let Some(job) = &mut self.export_job else {
            return;
        };
        for event in job.poll() {
            if let JobEvent::Finished(result) = event {
                self.export_job = None;
                match result {
                    Ok(path) => {
                        tracing::info!(path = %path.display(), "exported");
                        self.notices.push(Notice {
                            is_error: false,
                            text: format!("wrote \"{}\"", path.display()),
                        });
                    }
                    Err(e) => self.error(e),
                }
                return;
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
        self.poll_export_job();
        self.poll_tool_jobs();
        self.poll_dialog();
        self.poll_opening(&ctx);
        self.poll_projection(&ctx);
        self.poll_metrics();
        self.take_dropped_files(&ctx);
        let dt = ctx.input(|i| i.stable_dt);
        if let Some(z) = self.interpolation.advance(dt) {
            self.point.set_all(&z, None, &self.session.decoder);
            ctx.request_repaint();
        }
        if matches!(self.map, MapState::Ready(_)) && !self.when_map_ready.is_empty() {
            self.commands.append(&mut self.when_map_ready);
        }

        egui::Panel::bottom("status_bar").show(ui, |ui| {
            status_bar_ui(
                ui,
                &self.session,
                &self.point,
                self.progress.as_ref(),
                self.load_progress.as_ref(),
                &mut self.commands,
            );
        });
        egui::Panel::top("menu_bar").show(ui, |ui| {
            menu_bar_ui(
                ui,
                &self.recent,
                self.opening.is_some(),
                self.session.model.has_encoder(),
                &mut self.commands,
            );
        });
        let open_shortcut = egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::O);
        if ctx.input_mut(|i| i.consume_shortcut(&open_shortcut)) {
            self.commands
                .push(Command::Browse(DialogPurpose::OpenCheckpoint));
        }
        if !self.notices.is_empty() {
            egui::Panel::top("notices").show(ui, |ui| {
                notices_ui(ui, &self.notices, &mut self.commands);
            });
        }
        egui::Panel::left("latent_panel")
            .resizable(true)
            .default_size(300.0)
            .show(ui, |ui| {
                let (ranges, hint) = self.slider_ranges();
                let dims = self.visible_dims();
                let kl = self
                    .map()
                    .and_then(|m| m.units.as_ref())
                    .map(|u| u.kl.clone());
                let layout = SliderLayout {
                    dims: &dims,
                    ranges: &ranges,
                    kl: kl.as_deref(),
                    sort_by_kl: self.settings.sort_by_kl,
                    hide_inactive: self.settings.hide_inactive,
                    random_hint: hint,
                };
                latent_panel_ui(ui, &self.point, &layout, &mut self.commands);
            });

        egui::Panel::bottom("tools")
            .resizable(true)
            .default_size(200.0)
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    for (tool, label) in [
                        (Tool::Interpolation, "Interpolation"),
                        (Tool::Traversal, "Traversal"),
                        (Tool::Anomalies, "Anomalies"),
                        (Tool::Augment, "Augment"),
                        (Tool::Metrics, "Disentanglement"),
                    ] {
                        if ui.selectable_label(self.tool == tool, label).clicked() {
                            self.commands.push(Command::ShowTool(tool));
                        }
                    }
                });
                ui.separator();
                match self.tool {
                    Tool::Interpolation => interpolation_panel_ui(
                        ui,
                        &self.interpolation,
                        &mut self.strip_textures,
                        &mut self.drafts,
                        &self.session,
                        &self.library,
                        self.export_job.is_some(),
                        &mut self.commands,
                    ),
                    Tool::Anomalies => anomaly_panel_ui(
                        ui,
                        &self.anomaly,
                        self.color_by,
                        &mut self.anomaly_textures,
                        &mut self.drafts,
                        &self.session,
                        &mut self.commands,
                    ),
                    Tool::Augment => augment_panel_ui(
                        ui,
                        &self.variations,
                        &mut self.variation_textures,
                        &mut self.augment_drafts,
                        &self.session,
                        !self.interpolation.latents.is_empty(),
                        &mut self.commands,
                    ),
                    Tool::Traversal => {
                        let kl = self
                            .map()
                            .and_then(|m| m.units.as_ref())
                            .map(|u| u.kl.clone());
                        traversal_panel_ui(
                            ui,
                            &mut self.traversal,
                            kl.as_deref(),
                            &mut self.traversal_textures,
                            &self.session,
                            &mut self.commands,
                        );
                    }
                    Tool::Metrics => {
                        let unavailable = self.metrics_unavailable();
                        metrics_panel_ui(
                            ui,
                            &self.metrics,
                            unavailable.as_deref(),
                            &mut self.commands,
                        );
                    }
                }
            });

        // Slider moves are applied before the preview is drawn, so it shows them this frame.
        self.apply_commands(&ctx);
        self.update_traversal(&ctx);

        egui::Panel::right("preview")
            .resizable(true)
            .default_size(300.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    preview_ui(ui, &mut self.preview, &self.session, &self.point);
                    ui.separator();
                    egui::CollapsingHeader::new("Model")
                        .default_open(false)
                        .show(ui, |ui| {
                            let source = self.map().map(|m| m.source);
                            model_panel_ui(ui, &self.session, source);
                        });
                    library_panel_ui(
                        ui,
                        &self.library,
                        &self.attribute,
                        &self.analogy,
                        &mut self.library_textures,
                        &mut self.drafts,
                        &self.session,
                        matches!(self.map, MapState::Ready(_)),
                        &mut self.commands,
                    );
                });
            });
        let layout = self.layout();
        let placed = match &layout {
            Some((_, version)) => self.place_overlay(*version),
            None => projection::Placed::empty(),
        };
        self.shown_layout = layout.as_ref().map(|(l, _)| l.clone());
        self.shown_current = placed.current;
        egui::CentralPanel::default_margins().show(ui, |ui| {
            if let MapState::Ready(map) = &self.map {
                let color_choices = self.color_choices();
                projection_bar_ui(
                    ui,
                    self.projection.choice,
                    &mut self.projection.draft,
                    self.projection.tsne.as_ref(),
                    map,
                    self.color_by,
                    &color_choices,
                    &mut self.commands,
                );
            }
            let highlighted = self.anomaly.above_threshold();
            let overlay = MapOverlay {
                color_by: self.color_values(),
                highlighted: &highlighted,
                checked: placed.checked,
                current: placed.current,
                path: &placed.path,
                ends: placed.ends.clone(),
            };
            self.map_view.ui(
                ui,
                &self.map,
                layout.as_ref().map(|(l, _)| l),
                &self.session,
                &self.point,
                &overlay,
                &mut self.commands,
            );
        });

        // A pick on the map changes the preview; draw once more to show it.
        if !self.commands.is_empty() {
            self.apply_commands(&ctx);
            ctx.request_repaint();
        }

        let map_done = !self.is_building_map()
            && self.when_map_ready.is_empty()
            && self.anomaly.job.is_none()
            && self.export_job.is_none()
            && self.opening.is_none()
            && self.metrics.job.is_none()
            && !self
                .projection
                .tsne
                .as_ref()
                .is_some_and(|run| run.is_running());
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
