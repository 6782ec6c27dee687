//! The egui window. This is the only layer that names egui, eframe, egui_plot or rfd.
//!
//! Drawing code (in [`panels`]) reads state and pushes [`Command`]s; [`ExplorerApp`] applies
//! them, polls background jobs and owns the caches.

pub mod anomaly;
mod command;
mod explorer;
pub mod interpolation;
pub mod jobs;
pub mod loader;
pub mod map_job;
pub mod panels;
pub mod projection;
pub mod recent;
pub mod screenshot;
pub mod session;
mod textures;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};

pub use command::{ColorBy, Command, EndSource, ExportKind, Tool};
pub use explorer::{Analogy, AttributeState, DialogPurpose, Drafts, ExplorerApp, Notice, Settings};
pub use loader::OpenItem;
pub use screenshot::ScreenshotTask;
pub use session::Session;

/// What to open: the bundled model and dataset where a path is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenRequest {
    /// A checkpoint file.
    pub checkpoint: Option<PathBuf>,
    /// An IDX images file or a folder holding one.
    pub data: Option<PathBuf>,
}

/// How long `screenshot` waits for the map before giving up.
const SCREENSHOT_TIMEOUT: Duration = Duration::from_secs(300);

/// Loads what `args` names (the bundled model and dataset by default) into a session.
pub fn open_session(args: &OpenRequest) -> anyhow::Result<Session> {
    let model = crate::bundled::load_model(args.checkpoint.as_deref())?;
    let dataset = crate::bundled::load_dataset(args.data.as_deref())?;
    let model_name = match &args.checkpoint {
        Some(path) => path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        None => "bundled Fashion-MNIST VAE".to_owned(),
    };
    tracing::info!(
        model = model_name,
        dataset = dataset.name,
        samples = dataset.len(),
        "opened"
    );
    Session::from_loaded(model, model_name, std::sync::Arc::new(dataset)).map_err(|e| anyhow!(e))
}

fn native_options(size: (u32, u32)) -> eframe::NativeOptions {
    eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("latent-explorer")
            .with_inner_size([size.0 as f32, size.1 as f32]),
        ..Default::default()
    }
}

/// Opens the window and runs until it is closed.
pub fn run(args: &OpenRequest) -> anyhow::Result<()> {
    let session = open_session(args)?;
    eframe::run_native(
        "latent-explorer",
        native_options((1400, 860)),
        Box::new(|_| Ok(Box::new(ExplorerApp::new(session, Settings::default())))),
    )
    .map_err(|e| anyhow!("cannot open the window: {e}"))
}

/// Opens the window at `size`, waits for the map, saves the window's pixels to `out` and exits.
/// What to do once the map is ready, before a screenshot is taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Startup {
    /// Pick this dataset sample, as a click on the map would.
    pub pick: Option<usize>,
    /// Interpolate between these two dataset samples.
    pub ends: Option<(usize, usize)>,
    /// Score the dataset, colour the map by reconstruction error and show the anomaly tool.
    pub anomalies: bool,
    /// Show the map as t-SNE, and wait for it to finish.
    pub tsne: bool,
}

impl Startup {
    fn commands(self) -> Vec<Command> {
        let mut commands = Vec::new();
        if let Some((a, b)) = self.ends {
            commands.push(Command::SetEnd(interpolation::End::A, EndSource::Sample(a)));
            commands.push(Command::SetEnd(interpolation::End::B, EndSource::Sample(b)));
        }
        if let Some(idx) = self.pick {
            commands.push(Command::PickSample(idx));
        }
        if self.tsne {
            commands.push(Command::ChooseProjection(
                projection::ProjectionChoice::Tsne,
            ));
        }
        if self.anomalies {
            commands.push(Command::ScoreDataset);
            commands.push(Command::ColorMapBy(command::ColorBy::Score(
                crate::latent::Score::Reconstruction,
            )));
            commands.push(Command::ShowTool(Tool::Anomalies));
        }
        commands
    }
}

/// Opens the window at `size`, waits for the map, applies `startup`, saves the window's
/// pixels to `out` and exits.
pub fn screenshot(
    args: &OpenRequest,
    out: &Path,
    size: (u32, u32),
    startup: Startup,
) -> anyhow::Result<()> {
    let session = open_session(args)?;
    let (task, outcome) = ScreenshotTask::new(out.to_owned(), SCREENSHOT_TIMEOUT);
    eframe::run_native(
        "latent-explorer",
        native_options(size),
        Box::new(|_| {
            let mut app = ExplorerApp::new(session, Settings::default());
            app.when_map_ready(startup.commands());
            Ok(Box::new(app.with_screenshot(task)))
        }),
    )
    .map_err(|e| anyhow!("cannot open the window: {e}"))?;

    let result = outcome
        .lock()
        .ok()
        .and_then(|mut o| o.take())
        .context("the window closed before the screenshot was taken")?;
    let path = result.map_err(|e| anyhow!(e))?;
    println!("wrote \"{}\"", path.display());
    Ok(())
}
