//! The DCGAN generator of pytorch/examples, in candle, with batch norm in eval mode.
//!
//! `main` is a sequence of blocks; block `i` is three modules, so its tensors are
//! `main.{3i}` (a transposed convolution without bias, `[in, out, 4, 4]`) and
//! `main.{3i+1}` (batch norm: `weight`, `bias`, `running_mean`, `running_var`), then ReLU.
//! The first convolution takes `z` as a `[n, nz, 1, 1]` map to 4×4 (stride 1, no padding);
//! each later one doubles the side (stride 2, padding 1). The last convolution has no batch
//! norm and ends in `tanh`, giving `[n, nc, 4·2^L, 4·2^L]`: 64×64 for the usual `L = 4`.

use std::collections::HashMap;

use candle_core::Tensor;

use super::conv::{in_spec_order, tensor};
use super::conv_ops::{deconv_from_point, deconv4s2};
use super::spec::ModelSpec;
use super::vae::ModelError;

/// PyTorch's default `BatchNorm2d` epsilon.
const BATCH_NORM_EPS: f64 = 1e-5;

/// Eval-mode batch norm folded into one scale and one shift per channel, `[1, c, 1, 1]`.
#[derive(Debug, Clone)]
struct FoldedBatchNorm {
    scale: Tensor,
    shift: Tensor,
}

impl FoldedBatchNorm {
    /// `y = (x − mean) / √(var + ε) · weight + bias = x · scale + shift`.
    fn new(tensors: &HashMap<String, Tensor>, prefix: &str) -> Result<Self, ModelError> {
        let get = |part: &str| tensor(tensors, &format!("{prefix}.{part}"));
        let (weight, bias) = (get("weight")?, get("bias")?);
        let (mean, var) = (get("running_mean")?, get("running_var")?);
        let channels = weight.dim(0)?;
        let scale = (weight / (var + BATCH_NORM_EPS)?.sqrt()?)?;
        let shift = (bias - (&mean * &scale)?)?;
        Ok(Self {
            scale: scale.reshape((1, channels, 1, 1))?,
            shift: shift.reshape((1, channels, 1, 1))?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor, ModelError> {
        Ok(x.broadcast_mul(&self.scale)?.broadcast_add(&self.shift)?)
    }
}

/// A DCGAN generator: latents in, images out, no encoder.
#[derive(Debug, Clone)]
pub struct DcganGenerator {
    spec: ModelSpec,
    tensors: Vec<(String, Tensor)>,
    /// Each block's transposed-convolution weight and batch norm; the first block maps the
    /// 1×1 latent to 4×4, the others double the side.
    blocks: Vec<(Tensor, FoldedBatchNorm)>,
    last: Tensor,
}

impl DcganGenerator {
    /// Builds the generator from tensors whose names and shapes match
    /// [`ModelSpec::tensor_shapes`]; the checkpoint loader checks them first.
    pub fn from_tensors(
        spec: ModelSpec,
        tensors: &HashMap<String, Tensor>,
    ) -> Result<Self, ModelError> {
        let mut blocks = Vec::with_capacity(spec.channels.len());
        for i in 0..spec.channels.len() {
            let weight = tensor(tensors, &format!("main.{}.weight", 3 * i))?;
            let norm = FoldedBatchNorm::new(tensors, &format!("main.{}", 3 * i + 1))?;
            blocks.push((weight, norm));
        }
        let last = tensor(tensors, &format!("main.{}.weight", 3 * spec.channels.len()))?;
        let named = in_spec_order(&spec, tensors)?;
        Ok(Self {
            spec,
            tensors: named,
            blocks,
            last,
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

    /// `[n, latent_dim]` latents → `[n, c·h·w]` outputs before the final `tanh`.
    pub fn decode_logits(&self, z: &Tensor) -> Result<Tensor, ModelError> {
        let mut x: Option<Tensor> = None;
        for (weight, norm) in &self.blocks {
            let y = match &x {
                None => deconv_from_point(z, weight)?,
                Some(x) => deconv4s2(x, weight, None)?,
            };
            x = Some(norm.forward(&y)?.relu()?);
        }
        let out = match &x {
            None => deconv_from_point(z, &self.last)?,
            Some(x) => deconv4s2(x, &self.last, None)?,
        };
        Ok(out.flatten_from(1)?)
    }
}
