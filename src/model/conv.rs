//! The convolutional (variational) autoencoder in candle.
//!
//! Shapes, for input `[c, h, w]` and `L = channels.len()` layers:
//! - encoder: `[n, c, h, w]` → `L` × (conv 4×4, stride 2, padding 1, ReLU) →
//!   `[n, channels[L-1], h/2^L, w/2^L]` → flattened in (C, H, W) order, as PyTorch's
//!   `flatten` → fully connected `hidden` layers with ReLU → `mu` and `logvar` heads (or one
//!   `code` head for a plain autoencoder), `[n, latent_dim]`;
//! - decoder: `[n, latent_dim]` → fully connected layers through the hidden widths reversed
//!   to the flattened map size, each with ReLU → `[n, channels[L-1], h/2^L, w/2^L]` → `L` ×
//!   (transposed conv 4×4, stride 2, padding 1) with ReLU between → `[n, c, h, w]` logits.
//!
//! This is the β-VAE architecture of Burgess et al. (2018) for 64×64 images with
//! `channels = [32, 32, 64, 64]` and `hidden = [256]`.

use std::collections::HashMap;

use candle_core::{Module, Tensor};
use candle_nn::Linear;

use super::conv_ops::{conv4s2, deconv4s2};
use super::spec::ModelSpec;
use super::vae::ModelError;

/// A convolution's weight and bias; applied by [`conv4s2`] or [`deconv4s2`].
#[derive(Debug, Clone)]
struct ConvLayer {
    weight: Tensor,
    bias: Tensor,
}

/// A convolutional VAE or autoencoder, built from named tensors.
#[derive(Debug, Clone)]
pub struct ConvVae {
    spec: ModelSpec,
    tensors: Vec<(String, Tensor)>,
    convs: Vec<ConvLayer>,
    encoder_fc: Vec<Linear>,
    head: Linear,
    logvar: Option<Linear>,
    decoder_fc: Vec<Linear>,
    deconvs: Vec<ConvLayer>,
}

/// Looks up `name` in `tensors`, naming it when it is absent.
pub(crate) fn tensor(tensors: &HashMap<String, Tensor>, name: &str) -> Result<Tensor, ModelError> {
    tensors
        .get(name)
        .cloned()
        .ok_or_else(|| ModelError(candle_core::Error::Msg(format!("tensor {name} is missing"))))
}

/// Every tensor `spec` names, taken from `tensors`, in [`ModelSpec::tensor_shapes`] order.
pub(crate) fn in_spec_order(
    spec: &ModelSpec,
    tensors: &HashMap<String, Tensor>,
) -> Result<Vec<(String, Tensor)>, ModelError> {
    spec.tensor_shapes()
        .into_iter()
        .map(|(name, _)| Ok((name.clone(), tensor(tensors, &name)?)))
        .collect()
}

/// The linear layer `prefix.weight`, `prefix.bias`.
pub(crate) fn linear(
    tensors: &HashMap<String, Tensor>,
    prefix: &str,
) -> Result<Linear, ModelError> {
    Ok(Linear::new(
        tensor(tensors, &format!("{prefix}.weight"))?,
        Some(tensor(tensors, &format!("{prefix}.bias"))?),
    ))
}

impl ConvVae {
    /// Builds the network from tensors whose names and shapes match
    /// [`ModelSpec::tensor_shapes`]; the checkpoint loader checks them first.
    pub fn from_tensors(
        spec: ModelSpec,
        tensors: &HashMap<String, Tensor>,
    ) -> Result<Self, ModelError> {
        let layers = spec.channels.len();
        let mut convs = Vec::with_capacity(layers);
        let mut deconvs = Vec::with_capacity(layers);
        for i in 0..layers {
            convs.push(ConvLayer {
                weight: tensor(tensors, &format!("encoder.conv.{i}.weight"))?,
                bias: tensor(tensors, &format!("encoder.conv.{i}.bias"))?,
            });
            deconvs.push(ConvLayer {
                weight: tensor(tensors, &format!("decoder.deconv.{i}.weight"))?,
                bias: tensor(tensors, &format!("decoder.deconv.{i}.bias"))?,
            });
        }
        let encoder_fc = (0..spec.hidden.len())
            .map(|j| linear(tensors, &format!("encoder.fc.{j}")))
            .collect::<Result<_, _>>()?;
        let decoder_fc = (0..=spec.hidden.len())
            .map(|j| linear(tensors, &format!("decoder.fc.{j}")))
            .collect::<Result<_, _>>()?;
        let head = linear(tensors, spec.kind.latent_head())?;
        let logvar = match spec.kind.is_variational() {
            true => Some(linear(tensors, "logvar")?),
            false => None,
        };
        let named = in_spec_order(&spec, tensors)?;
        Ok(Self {
            spec,
            tensors: named,
            convs,
            encoder_fc,
            head,
            logvar,
            decoder_fc,
            deconvs,
        })
    }

    /// The spec the model was built from.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Every tensor by its checkpoint name, in [`ModelSpec::tensor_shapes`] order.
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        self.tensors.clone()
    }

    /// `[n, c·h·w]` images → µ (or the code) and, for a VAE, log σ², each `[n, latent_dim]`.
    pub fn encode(&self, images: &Tensor) -> Result<(Tensor, Option<Tensor>), ModelError> {
        let n = images.dim(0)?;
        let [c, h, w] = self.spec.input_shape;
        let mut x = images.reshape((n, c, h, w))?;
        for conv in &self.convs {
            x = conv4s2(&x, &conv.weight, Some(&conv.bias))?.relu()?;
        }
        let mut x = x.flatten_from(1)?;
        for layer in &self.encoder_fc {
            x = layer.forward(&x)?.relu()?;
        }
        let logvar = match &self.logvar {
            Some(layer) => Some(layer.forward(&x)?),
            None => None,
        };
        Ok((self.head.forward(&x)?, logvar))
    }

    /// `[n, latent_dim]` latents → `[n, c·h·w]` outputs before the final activation.
    pub fn decode_logits(&self, z: &Tensor) -> Result<Tensor, ModelError> {
        let n = z.dim(0)?;
        let mut x = z.clone();
        for layer in &self.decoder_fc {
            x = layer.forward(&x)?.relu()?;
        }
        let [mh, mw] = self.spec.conv_map_size();
        let top = self.spec.channels.last().copied().unwrap_or(0);
        let mut x = x.reshape((n, top, mh, mw))?;
        let last = self.deconvs.len().saturating_sub(1);
        for (i, deconv) in self.deconvs.iter().enumerate() {
            x = deconv4s2(&x, &deconv.weight, Some(&deconv.bias))?;
            if i < last {
                x = x.relu()?;
            }
        }
        Ok(x.flatten_from(1)?)
    }
}
