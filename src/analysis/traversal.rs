//! Traversal grids (one row per latent dimension, each varied alone around a point) and active
//! units (how much each dimension is used, as its mean KL over a dataset).

use std::ops::ControlFlow;

use candle_core::{DType, Device, Tensor};

use crate::model::{Model, ModelError};

/// The latents of a traversal grid around `z`: for each dimension in `dims`, `steps` copies of
/// `z` with that dimension set to values evenly spaced from `−range` to `range` (around 0, not
/// around its own value, so every row spans the same part of the prior). Row after row.
pub fn traversal_latents(z: &[f32], dims: &[usize], range: f32, steps: usize) -> Vec<Vec<f32>> {
    let steps = steps.max(1);
    let mut latents = Vec::with_capacity(dims.len() * steps);
    for &d in dims {
        for k in 0..steps {
            let t = if steps == 1 {
                0.5
            } else {
                k as f32 / (steps - 1) as f32
            };
            let mut row = z.to_vec();
            if let Some(v) = row.get_mut(d) {
                *v = -range + 2.0 * range * t;
            }
            latents.push(row);
        }
    }
    latents
}

/// Each latent dimension's use by the encoder over a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveUnits {
    /// Mean KL(q(z_d|x) ‖ N(0, 1)) of each dimension over the dataset, in nats.
    pub kl: Vec<f64>,
}

impl ActiveUnits {
    /// Dimensions sorted by KL, most used first.
    pub fn by_kl(&self) -> Vec<usize> {
        let mut dims: Vec<usize> = (0..self.kl.len()).collect();
        dims.sort_by(|&a, &b| self.kl[b].total_cmp(&self.kl[a]));
        dims
    }

    /// Dimensions whose KL is at least `threshold` nats.
    pub fn active(&self, threshold: f64) -> Vec<usize> {
        (0..self.kl.len())
            .filter(|&d| self.kl[d] >= threshold)
            .collect()
    }
}

/// The mean KL of each dimension over `pixels` (`n × input_len` values); `None` when the
/// model is not variational or `on_batch` stops the work.
pub fn active_units(
    model: &Model,
    pixels: &[f32],
    on_batch: &mut dyn FnMut(usize) -> ControlFlow<()>,
) -> Result<Option<ActiveUnits>, ModelError> {
    if !model.is_variational() {
        return Ok(None);
    }
    Ok(encode_with_units(model, pixels, on_batch)?.and_then(|(_, units)| units))
}

/// Posterior means (`n × dim` values) and, for a VAE, each dimension's mean KL.
pub type EncodedWithUnits = (Vec<f32>, Option<ActiveUnits>);

/// Encodes `pixels` to their posterior means (or codes) and, for a VAE, each dimension's mean
/// KL, in one pass; `None` when `on_batch` stops the work.
pub fn encode_with_units(
    model: &Model,
    pixels: &[f32],
    on_batch: &mut dyn FnMut(usize) -> ControlFlow<()>,
) -> Result<Option<EncodedWithUnits>, ModelError> {
    let input_len = model.spec().input_len().max(1);
    let dim = model.latent_dim();
    let mut means = Vec::with_capacity(pixels.len() / input_len * dim);
    let mut sums = model.is_variational().then(|| vec![0f64; dim]);
    let mut done = 0;
    for chunk in pixels.chunks(model.batch_size() * input_len) {
        let rows = chunk.len() / input_len;
        let images =
            Tensor::from_slice(&chunk[..rows * input_len], (rows, input_len), &Device::Cpu)?;
        let (mu, logvar) = model.encode(&images)?;
        if let (Some(logvar), Some(sums)) = (logvar, sums.as_mut()) {
            // ½ (µ² + σ² − log σ² − 1), summed over the batch per dimension.
            let kl = ((mu.sqr()? + logvar.exp()?)? - logvar)?;
            let kl = ((kl - 1.0)? * 0.5)?
                .sum(0)?
                .to_dtype(DType::F32)?
                .to_vec1::<f32>()?;
            for (s, v) in sums.iter_mut().zip(kl) {
                *s += f64::from(v);
            }
        }
        means.extend(mu.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?);
        done += rows;
        if on_batch(done).is_break() {
            return Ok(None);
        }
    }
    let n = done.max(1) as f64;
    let units = sums.map(|sums| ActiveUnits {
        kl: sums.into_iter().map(|s| s / n).collect(),
    });
    Ok(Some((means, units)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traversal_varies_one_dimension_per_row_over_the_range() {
        let latents = traversal_latents(&[0.5, -1.0, 2.0], &[2, 0], 3.0, 3);
        assert_eq!(latents.len(), 6);
        assert_eq!(latents[0], vec![0.5, -1.0, -3.0]);
        assert_eq!(latents[1], vec![0.5, -1.0, 0.0]);
        assert_eq!(latents[2], vec![0.5, -1.0, 3.0]);
        assert_eq!(latents[3], vec![-3.0, -1.0, 2.0]);
    }

    #[test]
    fn units_sort_by_kl_and_the_threshold_hides_collapsed_ones() {
        let units = ActiveUnits {
            kl: vec![0.002, 1.5, 0.4, 0.0],
        };
        assert_eq!(units.by_kl(), vec![1, 2, 0, 3]);
        assert_eq!(units.active(0.01), vec![1, 2]);
    }
}
