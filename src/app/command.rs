//! What the drawing code asks for. Panels never change state themselves: they push a
//! [`Command`], and [`super::ExplorerApp`] applies them all in one place.

use std::path::PathBuf;

use super::explorer::DialogPurpose;
use super::interpolation::{End, PlayMode};
use super::loader::OpenItem;
use crate::latent::{PathMethod, Score};

/// The tools in the bottom panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tool {
    /// Endpoints, strip, playback.
    #[default]
    Interpolation,
    /// Scores, histogram, threshold, gallery, image check.
    Anomalies,
    /// Variations around z.
    Augment,
    /// One row per dimension, each varied alone around z.
    Traversal,
    /// Disentanglement metrics against known factors.
    Metrics,
}

/// What colours the map's points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorBy {
    /// The class label, one colour each.
    #[default]
    Class,
    /// A known factor of variation (by index), on a continuous colour map.
    Factor(usize),
    /// An anomaly score, on a continuous colour map.
    Score(Score),
}

/// Where an interpolation endpoint comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndSource {
    /// The sliders' current z (with any attribute offset applied).
    Current,
    /// The µ of a dataset sample.
    Sample(usize),
    /// A bookmark, by index.
    Bookmark(usize),
}

/// What an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// The interpolation strip as one PNG.
    Strip,
    /// The interpolation as an animated GIF.
    Gif,
    /// The frames' latent vectors as CSV.
    Csv,
}

impl ExportKind {
    /// The file extension this kind writes.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Strip => "png",
            Self::Gif => "gif",
            Self::Csv => "csv",
        }
    }
}

/// An intention from the UI.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Set latent dimension `dim` to `value`.
    SetLatent {
        /// The dimension.
        dim: usize,
        /// Its new value.
        value: f32,
    },
    /// Set latent dimension `dim` back to 0.
    ResetDimension(usize),
    /// Set every dimension to 0.
    ResetAll,
    /// Draw z from the N(0, I) prior.
    Randomize,
    /// Set z to the posterior mean of dataset sample `idx`.
    PickSample(usize),
    /// Stop the map's background work.
    CancelMapJob,
    /// Compute the map again from scratch.
    RebuildMap,
    /// Hide notice `idx`.
    DismissNotice(usize),

    /// Set one end of the interpolation.
    SetEnd(End, EndSource),
    /// Set the number of strip frames.
    SetSteps(usize),
    /// Linear or spherical interpolation.
    SetPathMethod(PathMethod),
    /// Start or stop playback.
    TogglePlay,
    /// Loop or ping-pong.
    SetPlayMode(PlayMode),
    /// Playback speed in strip frames per second.
    SetPlaySpeed(f32),
    /// Set z to strip frame `k`.
    GoToFrame(usize),
    /// Write the interpolation to a file, in the background.
    Export(ExportKind, PathBuf),

    /// Save the current z under a name.
    AddBookmark(String),
    /// Rename bookmark `idx`.
    RenameBookmark(usize, String),
    /// Delete bookmark `idx`.
    DeleteBookmark(usize),
    /// Set z to bookmark `idx`.
    GoToBookmark(usize),

    /// Make and keep the attribute vector mean µ(`to`) − mean µ(`from`).
    ComputeAttribute {
        /// The class to move away from.
        from: u32,
        /// The class to move towards.
        to: u32,
        /// The user's name for it; empty for "To − From".
        name: String,
    },
    /// Choose the attribute vector that the strength slider applies (`None`: none).
    SelectAttribute(Option<usize>),
    /// Set the strength of the chosen attribute vector.
    SetStrength(f32),
    /// Make the applied attribute offset part of z.
    ApplyAttribute,
    /// Delete attribute vector `idx`.
    DeleteAttribute(usize),

    /// Put bookmark `bookmark` into analogy slot `slot` (0 = A, 1 = B, 2 = C).
    SetAnalogySlot {
        /// The slot.
        slot: usize,
        /// The bookmark.
        bookmark: usize,
    },
    /// Set z to the analogy's result.
    UseAnalogy,

    /// Show another tool in the bottom panel.
    ShowTool(Tool),
    /// Score every dataset sample in the background.
    ScoreDataset,
    /// Colour the map by class, a factor or a score.
    ColorMapBy(ColorBy),
    /// The score the histogram, threshold and gallery use.
    ChooseScore(Score),
    /// The threshold, as a percentile of the dataset's scores.
    SetPercentile(f32),
    /// Write the samples above the threshold as CSV.
    ExportAnomalies(PathBuf),
    /// Convert, encode, reconstruct and score an image file.
    CheckImage(PathBuf),
    /// Choose an image to check with the system's file dialog.
    BrowseImage,
    /// Draw new variations around z (or along the interpolation).
    GenerateVariations {
        /// How many.
        count: usize,
        /// Their spread around z.
        sigma: f32,
        /// Spread them along the interpolation path instead of around z.
        along_path: bool,
    },
    /// Write the variations as new PNG files with a CSV of their z into a folder.
    WriteVariations(PathBuf),

    /// Open a checkpoint or a dataset in the background; the open one stays until it is ready.
    Open(OpenItem),
    /// Choose a file or folder with the system's dialog.
    Browse(DialogPurpose),
    /// Stop opening.
    CancelOpen,

    /// Show the map as PCA on chosen axes, or as t-SNE.
    ChooseProjection(super::projection::ProjectionChoice),
    /// Start t-SNE again with the drafted parameters.
    RestartTsne,
    /// Pause (`true`) or resume t-SNE.
    PauseTsne(bool),
    /// Stop t-SNE where it is.
    CancelTsne,

    /// Order the sliders by each dimension's KL (most used first), and hide those below
    /// 0.01 nats.
    SetSliderView {
        /// Sort by KL.
        sort_by_kl: bool,
        /// Hide the collapsed dimensions.
        hide_inactive: bool,
    },
    /// Set the traversal grid's range and columns.
    SetTraversal {
        /// Each row spans ±range.
        range: f32,
        /// Columns.
        steps: usize,
    },
    /// Write the traversal grid as a PNG.
    ExportTraversal(PathBuf),
    /// Compute the disentanglement metrics in the background, with this many training points
    /// (and half as many evaluation points).
    ComputeMetrics {
        /// Training points of each metric.
        train_points: usize,
    },
    /// Stop computing the metrics.
    CancelMetrics,
}
