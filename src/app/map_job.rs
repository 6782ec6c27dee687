//! The map's background work: encode every dataset image to its posterior mean (or, for a
//! model without encoder, draw and decode samples from the prior), then fit PCA.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Instant;

use super::jobs::JobContext;
use crate::analysis::ActiveUnits;
use crate::analysis::traversal::encode_with_units;
use crate::data::Dataset;
use crate::latent::{Rng, sample_prior};
use crate::model::Model;
use crate::projection::{FittedPca, fit_pca};

/// How many prior samples stand in for the dataset on a generator's map.
pub const PRIOR_SAMPLES: usize = 2000;

/// Where the map's points come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapSource {
    /// The dataset, encoded to posterior means (or codes).
    Dataset,
    /// Samples from the N(0, I) prior, for a model that has no encoder.
    PriorSamples,
}

/// The spread of one latent dimension over the map's points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DimStats {
    /// Smallest value.
    pub min: f32,
    /// Largest value.
    pub max: f32,
    /// Mean.
    pub mean: f32,
    /// Standard deviation.
    pub std: f32,
}

/// The dataset as the map shows it: each sample's µ and its place in 2-D.
#[derive(Debug, Clone)]
pub struct LatentMap {
    /// Posterior means, `n × dim` values row by row.
    pub means: Vec<f32>,
    /// Size of each mean.
    pub dim: usize,
    /// The PCA fit: the projection (for placing any z) and each sample's coordinates.
    pub pca: FittedPca,
    /// Each dimension's spread over the finite means.
    pub stats: Vec<DimStats>,
    /// Each dimension's mean KL over the dataset, for a VAE.
    pub units: Option<ActiveUnits>,
    /// Where the points come from.
    pub source: MapSource,
    /// For prior samples: their decoded images, which stand in for the dataset.
    pub samples: Option<Arc<Dataset>>,
    /// Seconds spent encoding (or decoding the prior samples).
    pub encode_secs: f64,
    /// Seconds spent fitting the projection.
    pub project_secs: f64,
}

impl LatentMap {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.means.len() / self.dim.max(1)
    }

    /// True when the map holds no sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The posterior mean of sample `idx`.
    pub fn mean(&self, idx: usize) -> Option<&[f32]> {
        self.means.get(idx * self.dim..(idx + 1) * self.dim)
    }
}

/// Per-dimension min, max, mean and standard deviation over the finite rows of `means`.
pub fn dim_stats(means: &[f32], dim: usize) -> Vec<DimStats> {
    let rows: Vec<&[f32]> = means
        .chunks_exact(dim.max(1))
        .filter(|r| r.iter().all(|v| v.is_finite()))
        .collect();
    let n = rows.len().max(1) as f64;
    (0..dim)
        .map(|d| {
            let values = rows.iter().map(|r| f64::from(r[d]));
            let (mut min, mut max, mut sum, mut sq) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0.0);
            for v in values {
                min = min.min(v);
                max = max.max(v);
                sum += v;
                sq += v * v;
            }
            let mean = sum / n;
            let var = (sq / n - mean * mean).max(0.0);
            if rows.is_empty() {
                (min, max) = (0.0, 0.0);
            }
            DimStats {
                min: min as f32,
                max: max as f32,
                mean: mean as f32,
                std: var.sqrt() as f32,
            }
        })
        .collect()
}

/// Builds the map for `model` on `dataset`; runs on the job's thread.
pub fn build_map(
    model: &Model,
    dataset: &Arc<Dataset>,
    cx: &JobContext<LatentMap>,
) -> Result<LatentMap, String> {
    let started = Instant::now();
    let (means, units, samples, source) = if model.has_encoder() {
        let (means, units) = encode_dataset(model, dataset, cx)?;
        (means, units, None, MapSource::Dataset)
    } else {
        let (latents, samples) = sample_prior_images(model, cx)?;
        (
            latents,
            None,
            Some(Arc::new(samples)),
            MapSource::PriorSamples,
        )
    };
    let encode_secs = started.elapsed().as_secs_f64();

    cx.report("fitting PCA", 0, 1);
    let started = Instant::now();
    // Up to eight components, so the user can choose other axes than PC1 and PC2.
    let components = model.latent_dim().clamp(2, 8);
    let pca = fit_pca(&means, model.latent_dim(), components)
        .map_err(|e| format!("projecting dataset \"{}\": {e}", dataset.name))?;
    let project_secs = started.elapsed().as_secs_f64();
    tracing::info!(
        samples = means.len() / model.latent_dim().max(1),
        encode_ms = encode_secs * 1000.0,
        pca_ms = project_secs * 1000.0,
        "map ready"
    );

    Ok(LatentMap {
        stats: dim_stats(&means, model.latent_dim()),
        units,
        means,
        dim: model.latent_dim(),
        pca,
        source,
        samples,
        encode_secs,
        project_secs,
    })
}

fn keep_going<T>(cx: &JobContext<T>) -> ControlFlow<()> {
    if cx.is_cancelled() {
        ControlFlow::Break(())
    } else {
        ControlFlow::Continue(())
    }
}

/// The dataset's means and, for a VAE, each dimension's mean KL, in one pass.
fn encode_dataset(
    model: &Model,
    dataset: &Arc<Dataset>,
    cx: &JobContext<LatentMap>,
) -> Result<(Vec<f32>, Option<ActiveUnits>), String> {
    let total = dataset.len();
    cx.report("encoding", 0, total);
    encode_with_units(model, &dataset.pixels, &mut |done| {
        cx.report("encoding", done, total);
        keep_going(cx)
    })
    .map_err(|e| format!("encoding dataset \"{}\" failed: {e}", dataset.name))?
    .ok_or_else(|| "cancelled".to_owned())
}

/// [`PRIOR_SAMPLES`] latents from N(0, I) (seed 0) and their decoded images as a dataset.
fn sample_prior_images(
    model: &Model,
    cx: &JobContext<LatentMap>,
) -> Result<(Vec<f32>, Dataset), String> {
    let dim = model.latent_dim();
    let mut rng = Rng::new(0);
    let latents: Vec<f32> = (0..PRIOR_SAMPLES)
        .flat_map(|_| sample_prior(&mut rng, dim, 4.0))
        .collect();

    let shape = model.spec().image_shape();
    let mut pixels = Vec::with_capacity(PRIOR_SAMPLES * shape.len());
    let batch = model.batch_size().min(64) * dim;
    for chunk in latents.chunks(batch.max(1)) {
        if keep_going(cx).is_break() {
            return Err("cancelled".into());
        }
        let images = model
            .decode_for_display(chunk)
            .map_err(|e| format!("decoding samples from the prior failed: {e}"))?;
        pixels.extend(images.into_iter().flatten());
        cx.report(
            "decoding prior samples",
            pixels.len() / shape.len().max(1),
            PRIOR_SAMPLES,
        );
    }
    let samples = Dataset {
        name: format!("{PRIOR_SAMPLES} samples from the prior"),
        height: shape.height,
        width: shape.width,
        channels: shape.channels,
        pixels,
        labels: vec![0; PRIOR_SAMPLES],
        class_names: vec!["prior sample".into()],
        notes: Vec::new(),
        factors: None,
    };
    Ok((latents, samples))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimension_statistics_leave_out_non_finite_rows() {
        let means = [1.0, 10.0, 3.0, 20.0, f32::NAN, 99.0];
        let stats = dim_stats(&means, 2);
        assert_eq!((stats[0].min, stats[0].max, stats[0].mean), (1.0, 3.0, 2.0));
        assert_eq!(
            (stats[1].min, stats[1].max, stats[1].mean),
            (10.0, 20.0, 15.0)
        );
        assert!((stats[1].std - 5.0).abs() < 1e-6);
    }
}
