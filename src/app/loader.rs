//! Opening a checkpoint or a dataset while the window keeps running: the work happens on a
//! named background thread and ends in a new [`Session`], which the app adopts only when it
//! is complete. A failure leaves the open session untouched.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::jobs::JobContext;
use super::session::{ModelSource, Session};
use crate::data::Dataset;

/// What the user asked to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenItem {
    /// A model file of any supported format.
    Checkpoint(PathBuf),
    /// The Fashion-MNIST VAE compiled into the binary.
    BundledModel,
    /// The sprites VAE compiled into the binary.
    BundledSpritesModel,
    /// An IDX file, an IDX folder, an image folder, or `sprites`.
    Dataset(PathBuf),
    /// The Fashion-MNIST test set compiled into the binary.
    BundledDataset,
}

impl OpenItem {
    /// The item in words, for progress and messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Checkpoint(path) => format!("checkpoint \"{}\"", path.display()),
            Self::BundledModel => "the bundled model".into(),
            Self::BundledSpritesModel => "the bundled sprites VAE".into(),
            Self::Dataset(path) => format!("dataset \"{}\"", path.display()),
            Self::BundledDataset => "the bundled dataset".into(),
        }
    }
}

/// The parts of the open session that a new one may reuse.
pub struct CurrentParts {
    /// The open model.
    pub model: Arc<crate::model::Model>,
    /// How it was read.
    pub source: ModelSource,
    /// Its name.
    pub model_name: String,
    /// The open dataset as loaded.
    pub raw_dataset: Arc<Dataset>,
}

/// A short name for a model file.
pub fn file_label(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Loads `item` and pairs it with what is kept of `current`; runs on the job's thread.
pub fn open_item(
    item: &OpenItem,
    current: CurrentParts,
    cx: &JobContext<Session>,
) -> Result<Session, String> {
    cx.report(&format!("opening {}", item.describe()), 0, 1);
    match item {
        OpenItem::Checkpoint(_) | OpenItem::BundledModel => {
            let path = match item {
                OpenItem::Checkpoint(path) => Some(path.as_path()),
                _ => None,
            };
            let loaded = crate::bundled::load_model(path).map_err(|e| e.to_string())?;
            let name = path.map_or_else(|| "bundled Fashion-MNIST VAE".to_owned(), file_label);
            let dataset = dataset_for(&loaded.model, current.raw_dataset, cx)?;
            Session::from_loaded(loaded, name, dataset)
        }
        OpenItem::BundledSpritesModel => {
            let loaded = crate::bundled::sprites_model().map_err(|e| e.to_string())?;
            let dataset = dataset_for(&loaded.model, current.raw_dataset, cx)?;
            Session::from_loaded(loaded, "bundled sprites VAE".to_owned(), dataset)
        }
        OpenItem::Dataset(path) => {
            let dataset = read_dataset(path, cx)?;
            Session::new(
                current.model,
                current.source,
                current.model_name,
                Arc::new(dataset),
            )
        }
        OpenItem::BundledDataset => {
            let dataset = crate::bundled::dataset().map_err(|e| e.to_string())?;
            Session::new(
                current.model,
                current.source,
                current.model_name,
                Arc::new(dataset),
            )
        }
    }
}

fn read_dataset(path: &Path, cx: &JobContext<Session>) -> Result<Dataset, String> {
    if path == Path::new(crate::bundled::SPRITES) && !path.exists() {
        return crate::bundled::load_dataset(Some(path)).map_err(|e| e.to_string());
    }
    let stage = format!("reading \"{}\"", path.display());
    Dataset::load_with_progress(path, &mut |done, total| cx.report(&stage, done, total))
        .map_err(|e| e.to_string())
}

/// The dataset to pair with a newly opened model: the open one, unless the model was trained
/// on the generated sprites and the open dataset does not fit it, in which case the sprites
/// are generated.
fn dataset_for(
    model: &crate::model::Model,
    current: Arc<Dataset>,
    cx: &JobContext<Session>,
) -> Result<Arc<Dataset>, String> {
    let spec = model.spec();
    let fits = current.image_shape() == spec.image_shape();
    if model.has_encoder() && !fits && spec.dataset.starts_with(crate::bundled::SPRITES) {
        cx.report("generating the sprites the model was trained on", 0, 1);
        let sprites = crate::bundled::load_dataset(Some(Path::new(crate::bundled::SPRITES)))
            .map_err(|e| e.to_string())?;
        return Ok(Arc::new(sprites));
    }
    Ok(current)
}
