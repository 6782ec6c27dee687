//! Per-image terms of a VAE's loss, for finding the inputs that do not belong.

use std::ops::ControlFlow;

use candle_core::{DType, Device, Tensor};

use super::network::Model;
use super::spec::OutputActivation;
use super::vae::ModelError;
use crate::data::pixels::complexity_nats;

/// For each image: its posterior mean and the two terms of its negative ELBO.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageScores {
    /// Posterior means, `n × latent_dim` values.
    pub means: Vec<f32>,
    /// Squared error of the reconstruction at z = µ, summed over pixels.
    pub squared_error: Vec<f64>,
    /// Binary cross-entropy of the image against its reconstruction at z = µ, summed over
    /// pixels (nats).
    pub reconstruction: Vec<f64>,
    /// KL(q(z|x) ‖ N(0, I)) (nats).
    pub kl: Vec<f64>,
    /// The input's own complexity (its deflate-compressed length, nats).
    pub complexity: Vec<f64>,
}

impl ImageScores {
    /// Reconstruction + KL for each image: the negative ELBO at z = µ.
    pub fn negative_elbo(&self) -> Vec<f64> {
        self.reconstruction
            .iter()
            .zip(&self.kl)
            .map(|(r, k)| r + k)
            .collect()
    }
}

impl Model {
    /// Scores `pixels` (`n × input_len` values in `[0, 1]`), a batch at a time; `on_batch` hears
    /// the number of images done and may stop the work (the result is then `None`).
    ///
    /// A plain autoencoder has no posterior, so its KL term is 0 and its negative ELBO is the
    /// reconstruction term alone. Outputs that are not sigmoid are mapped to `[0, 1]` first.
    pub fn score_images(
        &self,
        pixels: &[f32],
        on_batch: &mut dyn FnMut(usize) -> ControlFlow<()>,
    ) -> Result<Option<ImageScores>, ModelError> {
        let input_len = self.spec().input_len();
        let n = pixels.len() / input_len.max(1);
        let mut scores = ImageScores {
            means: Vec::with_capacity(n * self.latent_dim()),
            squared_error: Vec::with_capacity(n),
            reconstruction: Vec::with_capacity(n),
            kl: Vec::with_capacity(n),
            complexity: Vec::with_capacity(n),
        };
        let mut done = 0;
        for chunk in pixels.chunks(self.batch_size() * input_len.max(1)) {
            let rows = chunk.len() / input_len.max(1);
            let images =
                Tensor::from_slice(&chunk[..rows * input_len], (rows, input_len), &Device::Cpu)?;
            let (mu, logvar) = self.encode(&images)?;
            let logits = self.decode_logits(&mu)?;
            let (bce, reconstruction) = self.cross_entropy(&images, &logits)?;
            let kl = match &logvar {
                Some(logvar) => ((((logvar + 1.0)? - mu.sqr()?)? - logvar.exp()?)?.sum(1)? * -0.5)?,
                None => Tensor::zeros(rows, DType::F32, &Device::Cpu)?,
            };
            let squared = (reconstruction - &images)?.sqr()?.sum(1)?;

            scores
                .means
                .extend(mu.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?);
            scores
                .squared_error
                .extend(squared.to_vec1::<f32>()?.into_iter().map(f64::from));
            scores
                .reconstruction
                .extend(bce.to_vec1::<f32>()?.into_iter().map(f64::from));
            scores
                .complexity
                .extend(chunk.chunks_exact(input_len).map(complexity_nats));
            scores
                .kl
                .extend(kl.to_vec1::<f32>()?.into_iter().map(f64::from));
            done += rows;
            if on_batch(done).is_break() {
                return Ok(None);
            }
        }
        Ok(Some(scores))
    }
}

impl Model {
    /// Binary cross-entropy of `images` against the decoder's outputs for `logits`, summed
    /// over pixels, with the outputs in `[0, 1]`.
    fn cross_entropy(
        &self,
        images: &Tensor,
        logits: &Tensor,
    ) -> Result<(Tensor, Tensor), ModelError> {
        if self.spec().output_activation == OutputActivation::Sigmoid {
            // BCE(x, σ(l)) = max(l, 0) − x·l + ln(1 + e^−|l|): exact even where σ(l) rounds to
            // 0 or 1.
            let tail = (logits.abs()?.neg()?.exp()? + 1.0)?.log()?;
            let bce = ((logits.relu()? - (images * logits)?)? + tail)?.sum(1)?;
            return Ok((bce, candle_nn::ops::sigmoid(logits)?));
        }
        let unit = match self.spec().output_activation {
            OutputActivation::Tanh => ((logits.tanh()? + 1.0)? * 0.5)?,
            _ => logits.clamp(0f32, 1f32)?,
        };
        let p = unit.clamp(1e-6f32, 1.0 - 1e-6f32)?;
        let one_minus = (p.neg()? + 1.0)?;
        let x_one_minus = (images.neg()? + 1.0)?;
        let bce = ((images * p.log()?)? + (x_one_minus * one_minus.log()?)?)?
            .sum(1)?
            .neg()?;
        Ok((bce, unit))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::model::{ModelKind, ModelSpec, OutputActivation};

    /// A VAE with two pixels, no hidden layer and one latent dimension, with round weights.
    fn tiny_model() -> Model {
        let spec = ModelSpec {
            kind: ModelKind::MlpVae,
            input_shape: [1, 1, 2],
            hidden: vec![],
            channels: Vec::new(),
            latent_dim: 1,
            output_activation: OutputActivation::Sigmoid,
            dataset: String::new(),
            class_names: Vec::new(),
            training: None,
        };
        let t = |values: &[f32], shape: &[usize]| {
            Tensor::from_slice(values, shape, &Device::Cpu).unwrap_or_else(|e| panic!("{e}"))
        };
        let tensors: HashMap<String, Tensor> = [
            ("mu.weight", t(&[1.0, -1.0], &[1, 2])),
            ("mu.bias", t(&[0.5], &[1])),
            ("logvar.weight", t(&[0.0, 0.0], &[1, 2])),
            ("logvar.bias", t(&[-1.0], &[1])),
            ("decoder.out.weight", t(&[2.0, -2.0], &[2, 1])),
            ("decoder.out.bias", t(&[0.0, 0.0], &[2])),
        ]
        .into_iter()
        .map(|(name, tensor)| (name.to_owned(), tensor))
        .collect();
        Model::from_tensors(spec, &tensors).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn scores_of_a_tiny_model_equal_the_hand_computed_ones() {
        let model = tiny_model();
        let x = [1.0f32, 0.0];
        let scores = model
            .score_images(&x, &mut |_| ControlFlow::Continue(()))
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("stopped"));

        // µ = 1 − 0 + 0.5 = 1.5; log σ² = −1; logits = (3, −3); x̂ = (σ(3), σ(−3)).
        let mu = 1.5f64;
        let sigmoid = |v: f64| 1.0 / (1.0 + (-v).exp());
        let (r0, r1) = (sigmoid(3.0), sigmoid(-3.0));
        let bce = -(1.0 * r0.ln()) - (1.0 * (1.0 - r1).ln());
        let kl = -0.5 * (1.0 + (-1.0) - mu * mu - (-1.0f64).exp());
        let squared = (1.0 - r0).powi(2) + (0.0 - r1).powi(2);

        assert!((f64::from(scores.means[0]) - mu).abs() < 1e-6);
        assert!(
            (scores.reconstruction[0] - bce).abs() < 1e-5,
            "{} vs {bce}",
            scores.reconstruction[0]
        );
        assert!((scores.kl[0] - kl).abs() < 1e-5, "{} vs {kl}", scores.kl[0]);
        assert!((scores.squared_error[0] - squared).abs() < 1e-6);
        assert!((scores.negative_elbo()[0] - (bce + kl)).abs() < 1e-5);
        assert!(scores.complexity[0] > 0.0);
    }
}
