//! Decoding one latent at a time for the sliders, as fast as each architecture allows.

use std::sync::Arc;

use candle_core::{Device, Tensor};

use super::fast_decoder::FastDecoder;
use super::network::Model;
use super::spec::OutputActivation;
use super::vae::ModelError;

/// Decodes single latents to display pixels in `[0, 1]`.
///
/// A fully connected model goes through [`FastDecoder`] (plain arrays, tens of microseconds);
/// a convolutional one through candle (a few milliseconds at 64×64), which still fits in a
/// frame.
#[derive(Debug, Clone)]
pub enum PointDecoder {
    /// The plain-array decoder of an MLP.
    Fast(FastDecoder, OutputActivation),
    /// The candle network itself.
    Network(Arc<Model>),
}

impl PointDecoder {
    /// The fastest decoder for `model`.
    pub fn new(model: &Arc<Model>) -> Result<Self, ModelError> {
        Ok(match model.as_ref() {
            Model::Mlp(mlp) => {
                Self::Fast(FastDecoder::from_model(mlp)?, mlp.spec().output_activation)
            }
            Model::Conv(_) | Model::Dcgan(_) => Self::Network(model.clone()),
        })
    }

    /// Size of z.
    pub fn latent_dim(&self) -> usize {
        match self {
            Self::Fast(fast, _) => fast.latent_dim(),
            Self::Network(model) => model.latent_dim(),
        }
    }

    /// Decodes `z` into `out` (cleared first) as display values in `[0, 1]`.
    ///
    /// A latent of the wrong length or a failing network leaves `out` black and logs why:
    /// the sliders always hold a vector of the model's size, so this is never the user's doing.
    pub fn decode_into(&self, z: &[f32], out: &mut Vec<f32>) {
        let (result, activation) = match self {
            Self::Fast(fast, activation) if z.len() == fast.latent_dim() => {
                fast.decode_into(z, out);
                (Ok(()), *activation)
            }
            Self::Fast(fast, activation) => {
                (Err(wrong_length(z.len(), fast.latent_dim())), *activation)
            }
            Self::Network(model) => {
                let activation = model.spec().output_activation;
                (decode_with(model, z, out), activation)
            }
        };
        if let Err(e) = result {
            tracing::error!("decoding one latent failed: {e}");
            out.clear();
        }
        match activation {
            OutputActivation::Sigmoid => {}
            other => out.iter_mut().for_each(|v| *v = other.to_unit(*v)),
        }
    }

    /// Decodes `z` to a new vector of display values.
    pub fn decode(&self, z: &[f32]) -> Vec<f32> {
        let mut out = Vec::new();
        self.decode_into(z, &mut out);
        out
    }
}

fn wrong_length(found: usize, expected: usize) -> ModelError {
    ModelError(candle_core::Error::Msg(format!(
        "a latent of {found} values given to a decoder of {expected}"
    )))
}

fn decode_with(model: &Model, z: &[f32], out: &mut Vec<f32>) -> Result<(), ModelError> {
    if z.len() != model.latent_dim() {
        return Err(wrong_length(z.len(), model.latent_dim()));
    }
    let z = Tensor::from_slice(z, (1, z.len()), &Device::Cpu)?;
    *out = model.decode(&z)?.flatten_all()?.to_vec1()?;
    Ok(())
}
