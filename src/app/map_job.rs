//! The map's background work: encode every dataset image to its posterior mean, then fit PCA.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Instant;

use super::jobs::JobContext;
use crate::data::Dataset;
use crate::model::Model;
use crate::projection::{FittedPca, fit_pca};

/// The dataset as the map shows it: each sample's µ and its place in 2-D.
#[derive(Debug, Clone)]
pub struct LatentMap {
    /// Posterior means, `n × dim` values row by row.
    pub means: Vec<f32>,
    /// Size of each mean.
    pub dim: usize,
    /// The PCA fit: the projection (for placing any z) and each sample's coordinates.
    pub pca: FittedPca,
    /// Seconds spent encoding.
    pub encode_secs: f64,
    /// Seconds spent fitting the projection.
    pub project_secs: f64,
}

impl LatentMap {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.pca.coords.len()
    }

    /// True when the map holds no sample.
    pub fn is_empty(&self) -> bool {
        self.pca.coords.is_empty()
    }

    /// The posterior mean of sample `idx`.
    pub fn mean(&self, idx: usize) -> Option<&[f32]> {
        self.means.get(idx * self.dim..(idx + 1) * self.dim)
    }
}

/// Encodes `dataset` with `model` and projects the means; runs on the job's thread.
pub fn build_map(
    model: &Model,
    dataset: &Arc<Dataset>,
    cx: &JobContext<LatentMap>,
) -> Result<LatentMap, String> {
    let total = dataset.len();
    cx.report("encoding", 0, total);

    let started = Instant::now();
    let means = model
        .encode_means(&dataset.pixels, &mut |done| {
            cx.report("encoding", done, total);
            if cx.is_cancelled() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .map_err(|e| format!("encoding dataset \"{}\" failed: {e}", dataset.name))?
        .ok_or_else(|| "cancelled".to_owned())?;
    let encode_secs = started.elapsed().as_secs_f64();

    cx.report("fitting PCA", 0, 1);
    let started = Instant::now();
    let pca = fit_pca(&means, model.latent_dim(), 2)
        .map_err(|e| format!("projecting dataset \"{}\": {e}", dataset.name))?;
    let project_secs = started.elapsed().as_secs_f64();
    tracing::info!(
        samples = total,
        encode_ms = encode_secs * 1000.0,
        pca_ms = project_secs * 1000.0,
        "map ready"
    );

    Ok(LatentMap {
        means,
        dim: model.latent_dim(),
        pca,
        encode_secs,
        project_secs,
    })
}
