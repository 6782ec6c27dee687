//! Opening checkpoints and datasets: the file dialog, the loading job, and adopting the new
//! session without losing what the user made.

use std::path::PathBuf;
use std::sync::Arc;

use super::{ExplorerApp, Notice};
use crate::app::Command;
use crate::app::jobs::{Job, JobEvent};
use crate::app::loader::{CurrentParts, OpenItem, open_item};
use crate::app::recent::RecentFiles;
use crate::app::session::Session;

/// What a file chosen in the system dialog is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogPurpose {
    /// A model file to open.
    OpenCheckpoint,
    /// An IDX file to open as the dataset.
    OpenDatasetFile,
    /// An image or IDX folder to open as the dataset.
    OpenDatasetFolder,
    /// An image to check against the dataset.
    CheckImage,
}

impl DialogPurpose {
    fn title(self) -> &'static str {
        match self {
            Self::OpenCheckpoint => "Open checkpoint",
            Self::OpenDatasetFile => "Open dataset file",
            Self::OpenDatasetFolder => "Open dataset folder",
            Self::CheckImage => "Check an image",
        }
    }
}

/// A running open: what is being opened, and the job opening it.
pub struct Opening {
    /// What the user asked for.
    pub item: OpenItem,
    /// The work.
    pub job: Job<Session>,
}

impl ExplorerApp {
    /// Commands of the File menu.
    pub(super) fn apply_open_command(&mut self, command: Command, ctx: &egui::Context) {
        match command {
            Command::Open(item) => self.start_open(item, ctx),
            Command::Browse(purpose) => self.open_dialog(purpose, ctx),
            Command::CancelOpen => {
                if let Some(opening) = self.opening.take() {
                    opening.job.cancel();
                    self.progress = None;
                    tracing::info!("opening {} cancelled", opening.item.describe());
                }
            }
            _ => {}
        }
    }

    /// Opens the system file dialog on its own thread, so the window never blocks on it.
    pub(super) fn open_dialog(&mut self, purpose: DialogPurpose, ctx: &egui::Context) {
        if self.dialog.is_some() {
            return;
        }
        let repaint = ctx.clone();
        let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(move || repaint.request_repaint());
        let job = Job::spawn("file-dialog", 0, wake, move |_| {
            let dialog = rfd::FileDialog::new().set_title(purpose.title());
            Ok(match purpose {
                DialogPurpose::OpenCheckpoint => dialog
                    .add_filter("Model files", &["safetensors", "pt", "pth", "bin"])
                    .add_filter("All files", &["*"])
                    .pick_file(),
                DialogPurpose::OpenDatasetFile => dialog
                    .add_filter("IDX images", &["gz", "ubyte", "idx3-ubyte"])
                    .add_filter("All files", &["*"])
                    .pick_file(),
                DialogPurpose::OpenDatasetFolder => dialog.pick_folder(),
                DialogPurpose::CheckImage => dialog
                    .add_filter("Images", &["png", "jpg", "jpeg"])
                    .pick_file(),
            })
        });
        match job {
            Ok(job) => self.dialog = Some((purpose, job)),
            Err(e) => self.error(format!("cannot open the file dialog: {e}")),
        }
    }

    /// Takes in the file dialog's answer.
    pub(super) fn poll_dialog(&mut self) {
        let Some((purpose, job)) = &mut self.dialog else {
            return;
        };
        let purpose = *purpose;
        let answer = job.poll().into_iter().find_map(|e| match e {
            JobEvent::Finished(result) => Some(result),
            JobEvent::Progress(_) => None,
        });
        let Some(answer) = answer else {
            return;
        };
        self.dialog = None;
        match answer {
            Ok(Some(path)) => self.commands.push(match purpose {
                DialogPurpose::OpenCheckpoint => Command::Open(OpenItem::Checkpoint(path)),
                DialogPurpose::OpenDatasetFile | DialogPurpose::OpenDatasetFolder => {
                    Command::Open(OpenItem::Dataset(path))
                }
                DialogPurpose::CheckImage => Command::CheckImage(path),
            }),
            // rfd says nothing when the desktop has no dialog; the user must hear of the other ways.
            Ok(None) => {
                tracing::info!("no file chosen, or no file dialog on this desktop");
                self.notices.push(Notice {
                    is_error: false,
                    text: "no file chosen; without a file dialog on this desktop, drop the file on the window or give it on the command line".into(),
                });
            }
            Err(e) => self.warn(format!(
                "the file dialog failed: {e}; drop the file on the window instead"
            )),
        }
    }

    fn start_open(&mut self, item: OpenItem, ctx: &egui::Context) {
        if let Some(previous) = self.opening.take() {
            previous.job.cancel();
        }
        let current = CurrentParts {
            model: self.session.model.clone(),
            source: self.session.source.clone(),
            model_name: self.session.model_name.clone(),
            raw_dataset: self.session.raw_dataset.clone(),
        };
        let repaint = ctx.clone();
        let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(move || repaint.request_repaint());
        let work_item = item.clone();
        let job = Job::spawn("open-file", 0, wake, move |cx| {
            open_item(&work_item, current, cx)
        });
        match job {
            Ok(job) => self.opening = Some(Opening { item, job }),
            Err(e) => self.error(format!("cannot start opening {}: {e}", item.describe())),
        }
    }

    /// Takes in the loading job's news; a finished session replaces the open one.
    pub(super) fn poll_opening(&mut self, ctx: &egui::Context) {
        let Some(opening) = &mut self.opening else {
            return;
        };
        let mut finished = None;
        for event in opening.job.poll() {
            match event {
                JobEvent::Progress(p) => self.load_progress = Some(p),
                JobEvent::Finished(result) => finished = Some(result),
            }
        }
        let Some(result) = finished else {
            return;
        };
        let item = opening.item.clone();
        self.opening = None;
        self.load_progress = None;
        match result {
            Ok(session) => {
                self.remember(&item);
                self.adopt_session(session, ctx);
                let mut facts = vec![format!("opened {}", item.describe())];
                facts.extend(
                    self.session
                        .conversion
                        .iter()
                        .map(|c| format!("images converted: {c}")),
                );
                facts.extend(self.session.raw_dataset.notes.iter().cloned());
                tracing::info!("{}", facts.join("; "));
            }
            // What was open stays open: the user loses nothing to a bad file.
            Err(message) if message == "cancelled" => {}
            Err(message) => self.error(format!(
                "{message}; the previous model and dataset stay open"
            )),
        }
    }

    fn remember(&mut self, item: &OpenItem) {
        match item {
            OpenItem::Checkpoint(path) => self.recent.add_checkpoint(path),
            OpenItem::Dataset(path) => self.recent.add_dataset(path),
            OpenItem::BundledModel | OpenItem::BundledSpritesModel | OpenItem::BundledDataset => {
                return;
            }
        }
        if let Some(dir) = &self.library_dir
            && let Err(e) = self.recent.save(dir)
        {
            self.warn(e);
        }
    }

    /// Reads the recent lists from the data folder.
    pub(super) fn load_recent(&mut self) {
        let Some(dir) = &self.library_dir else {
            return;
        };
        match RecentFiles::load(dir) {
            Ok(recent) => self.recent = recent,
            Err(e) => self.warn(e),
        }
    }

    /// Replaces the open session with `session`: everything tied to the old model or dataset
    /// (the map, scores, strip, textures) starts afresh; what the user owns (messages, recent
    /// files, drafts, the chosen tool and, when the latent size stays, the sliders' z and the
    /// interpolation's ends) carries over. Bookmarks live on disk per model and come back with
    /// it.
    fn adopt_session(&mut self, session: Session, ctx: &egui::Context) {
        let keep_z = session.latent_dim() == self.session.latent_dim();
        let mut next =
            ExplorerApp::with_data_dir(session, self.settings.clone(), self.library_dir.clone());
        next.notices.splice(0..0, std::mem::take(&mut self.notices));
        next.recent = std::mem::take(&mut self.recent);
        next.tool = self.tool;
        next.drafts = std::mem::take(&mut self.drafts);
        next.drafts.fit_classes(next.session.dataset.class_count());
        next.augment_drafts = std::mem::take(&mut self.augment_drafts);
        next.screenshot = self.screenshot.take();
        next.when_map_ready = std::mem::take(&mut self.when_map_ready);
        next.rng = self.rng.clone();
        next.projection = super::ProjectionView::carried_from(&self.projection);
        if keep_z {
            let decoder = &next.session.decoder;
            next.point.set_all(&self.point.z, None, decoder);
            next.interpolation = std::mem::take(&mut self.interpolation);
            next.interpolation.rebuild_with(decoder);
        }
        *self = next;
        self.start_map_job(ctx);
    }

    /// The folder for bookmarks and recent files.
    pub fn data_folder(&self) -> Option<&PathBuf> {
        self.library_dir.as_ref()
    }
}
