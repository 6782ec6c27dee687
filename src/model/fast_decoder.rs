//! A hand-written decoder for one latent at a time: the slider path.
//!
//! candle pays tensor allocation and dispatch costs on every call that dwarf the arithmetic
//! of a 16 → 400 → 784 network (about 320k multiply-adds). Here the weights are copied once
//! into plain arrays, stored column by column (`[input][output]`), and each layer adds
//! `x_j · column_j` for every input `j` into the output. Two things make that fast:
//!
//! - after a ReLU about half the hidden values are exactly zero, and their columns are
//!   skipped: the biggest layer does half the work;
//! - four active columns are added in one pass, so the output row is loaded and stored a
//!   quarter as often, and the inner loop is plain enough for the compiler to vectorise.
//!
//! The result equals candle's decode to within float rounding (tested in `tests/`).

use super::spec::OutputActivation;
use super::vae::{MlpVae, ModelError};

/// One fully connected layer stored by columns: `columns[j * output..(j + 1) * output]` holds
/// the weights from input `j` to every output.
#[derive(Debug, Clone)]
struct Dense {
    columns: Vec<f32>,
    bias: Vec<f32>,
    output: usize,
}

impl Dense {
    /// `weight` is `[output, input]` row-major, as in PyTorch and in checkpoints.
    fn from_rows(weight: &[f32], bias: Vec<f32>) -> Self {
        let output = bias.len();
        let input = weight.len().checked_div(output).unwrap_or(0);
        let mut columns = vec![0.0; input * output];
        for (o, row) in weight.chunks_exact(input.max(1)).enumerate() {
            for (i, &w) in row.iter().enumerate() {
                columns[i * output + o] = w;
            }
        }
        Self {
            columns,
            bias,
            output,
        }
    }

    /// `out = bias + Σ_j x_j · column_j`, skipping the inputs that are exactly zero.
    fn forward(&self, x: &[f32], active: &mut Vec<usize>, out: &mut Vec<f32>) {
        out.clear();
        out.extend_from_slice(&self.bias);

        active.clear();
        active.extend(
            x.iter()
                .enumerate()
                .filter(|(_, v)| **v != 0.0)
                .map(|(j, _)| j),
        );
        let column = |j: usize| &self.columns[j * self.output..(j + 1) * self.output];

        let mut groups = active.chunks_exact(4);
        for group in &mut groups {
            let [a, b, c, d] = [group[0], group[1], group[2], group[3]];
            let (xa, xb, xc, xd) = (x[a], x[b], x[c], x[d]);
            let (ca, cb, cc, cd) = (column(a), column(b), column(c), column(d));
            let columns = ca.iter().zip(cb).zip(cc).zip(cd);
            for (o, (((wa, wb), wc), wd)) in out.iter_mut().zip(columns) {
                *o += xa * wa + xb * wb + xc * wc + xd * wd;
            }
        }
        for &j in groups.remainder() {
            let (xj, cj) = (x[j], column(j));
            for (o, w) in out.iter_mut().zip(cj) {
                *o += xj * w;
            }
        }
    }
}

/// The decoder half of an [`MlpVae`], as plain arrays.
#[derive(Debug, Clone)]
pub struct FastDecoder {
    hidden: Vec<Dense>,
    out: Dense,
    activation: OutputActivation,
    latent_dim: usize,
}

impl FastDecoder {
    /// Copies the decoder's weights out of `model`.
    pub fn from_model(model: &MlpVae) -> Result<Self, ModelError> {
        let dense = |prefix: &str| -> Result<Dense, ModelError> {
            let (weight, bias) = model.layer_values(prefix)?;
            Ok(Dense::from_rows(&weight, bias))
        };

        let spec = model.spec();
        let hidden = (0..spec.hidden.len())
            .map(|i| dense(&format!("decoder.{i}")))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            hidden,
            out: dense("decoder.out")?,
            activation: spec.output_activation,
            latent_dim: spec.latent_dim,
        })
    }

    /// Size of z.
    pub fn latent_dim(&self) -> usize {
        self.latent_dim
    }

    /// Decodes one latent into `out` (cleared first), in the model's own output range; `z` must
    /// hold `latent_dim` values.
    pub fn decode_into(&self, z: &[f32], out: &mut Vec<f32>) {
        let mut current = z.to_vec();
        let mut next = Vec::new();
        let mut active = Vec::new();
        for layer in &self.hidden {
            layer.forward(&current, &mut active, &mut next);
            next.iter_mut().for_each(|v| *v = v.max(0.0));
            std::mem::swap(&mut current, &mut next);
        }

        self.out.forward(&current, &mut active, out);
        match self.activation {
            OutputActivation::Sigmoid => {
                out.iter_mut().for_each(|v| *v = 1.0 / (1.0 + (-*v).exp()))
            }
            OutputActivation::Tanh => out.iter_mut().for_each(|v| *v = v.tanh()),
            OutputActivation::Identity => {}
        }
    }

    /// Decodes one latent to a new vector.
    pub fn decode(&self, z: &[f32]) -> Vec<f32> {
        let mut out = Vec::new();
        self.decode_into(z, &mut out);
        out
    }
}
