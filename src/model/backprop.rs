//! The training loss of the MLP VAE and its gradient, written out by hand on plain arrays.
//!
//! candle's autograd spent three times as long on the backward pass as on the forward pass
//! for the 784 → 400 → 20 VAE at batch 128 (9.1 ms against 3.2 ms), mostly in bookkeeping
//! and in copies of transposed operands; candle's own products, with a fresh tensor for every
//! operation, then still left us at half of PyTorch's speed. The gradient of this network is
//! short enough to write down, and here it runs on `Vec<f32>` with [`matmul`]:
//!
//! - activations are kept feature-major (`[features, n]`), so every forward product is
//!   `W · Xᵀ` with the weight in its stored `[out, in]` layout, and the backward products are
//!   `Gᵀ · X` (weight gradients) and `G · W` (input gradients): with a batch that is a multiple
//!   of 16 (the default is 128) no weight-sized matrix is transposed or copied, only
//!   activations;
//! - the first layer's input gradient is never formed, and the loss and its gradient with
//!   respect to the logits come out of one pass over plain values.
//!
//! Notation (batch of `n` images): `a_0 = x`, `a_{i+1} = relu(a_i W_iᵀ + b_i)` through the
//! encoder, `h = a_L`; `µ = h W_µᵀ + b_µ`, `s = h W_sᵀ + b_s` (log σ²); `z = µ + ε·exp(s/2)`;
//! the decoder mirrors the encoder and ends in logits `l`. The loss is
//! `(1/n) Σ_images [Σ_pixels BCE(x, sigmoid(l)) + β·KL]`, so `∂/∂l = (sigmoid(l) − x)/n`,
//! `∂KL/∂µ = µ` and `∂KL/∂s = (exp(s) − 1)/2`.

use super::fast_math::{exp_non_positive, ln_1p_unit, sum_lanes};
use super::matmul::{matmul, transpose};
use super::spec::ModelSpec;

/// The loss of one batch and its gradient with respect to every parameter.
pub struct BatchGradients {
    /// Sum over the batch of each image's loss (reconstruction + β·KL).
    pub loss_sum: f64,
    /// Sum over the batch of each image's KL.
    pub kl_sum: f64,
    /// One gradient per parameter, in [`ModelSpec::tensor_shapes`] order, flattened.
    pub grads: Vec<Vec<f32>>,
}

/// Index of each layer's weight among the parameters (its bias follows it).
struct Layout {
    hidden: usize,
}

impl Layout {
    fn encoder(&self, i: usize) -> usize {
        2 * i
    }
    fn mu(&self) -> usize {
        2 * self.hidden
    }
    fn logvar(&self) -> usize {
        2 * self.hidden + 2
    }
    fn decoder(&self, i: usize) -> usize {
        2 * self.hidden + 4 + 2 * i
    }
    fn out(&self) -> usize {
        4 * self.hidden + 4
    }
}

/// One fully connected layer among the parameters: weight `[out, input]`, bias `[out]`.
struct Linear<'a> {
    weight: &'a [f32],
    bias: &'a [f32],
    out: usize,
    input: usize,
}

impl<'a> Linear<'a> {
    fn at(params: &'a [Vec<f32>], k: usize) -> Self {
        let (weight, bias) = (&params[k], &params[k + 1]);
        let out = bias.len();
        Self {
            weight,
            bias,
            out,
            input: weight.len().checked_div(out).unwrap_or(0),
        }
    }

    /// `W · x_t + b` for feature-major `x_t` (`[input, n]`), feature-major out, ReLU when asked.
    fn forward(&self, x_t: &[f32], n: usize, relu: bool) -> Vec<f32> {
        let mut y = vec![0.0; self.out * n];
        matmul(self.weight, self.out, self.input, x_t, n, &mut y);
        for (row, &b) in y.chunks_exact_mut(n.max(1)).zip(self.bias) {
            match relu {
                true => row.iter_mut().for_each(|v| *v = (*v + b).max(0.0)),
                false => row.iter_mut().for_each(|v| *v += b),
            }
        }
        y
    }

    /// Stores `∂/∂W = g_t · x` and `∂/∂b = Σ_images g` for the feature-major gradient `g_t`
    /// (`[out, n]`) and the layer's row-major input `x` (`[n, input]`) at parameter `k`.
    fn store_grads(&self, grads: &mut [Vec<f32>], k: usize, g_t: &[f32], x: &[f32], n: usize) {
        let mut weight = vec![0.0; self.out * self.input];
        matmul(g_t, self.out, n, x, self.input, &mut weight);
        grads[k] = weight;
        grads[k + 1] = match n {
            0 => vec![0.0; self.out],
            _ => g_t
                .chunks_exact(n)
                .map(|row| sum_lanes(row) as f32)
                .collect(),
        };
    }

    /// The row-major gradient with respect to the input, `g · W` (`[n, input]`), for the
    /// row-major gradient `g` (`[n, out]`).
    fn input_grad(&self, g: &[f32], n: usize) -> Vec<f32> {
        let mut x = vec![0.0; n * self.input];
        matmul(g, n, self.out, self.weight, self.input, &mut x);
        x
    }
}

/// Zeroes `g_t` where the ReLU's output `activation_t` (same layout) was zero.
fn through_relu(g_t: &mut [f32], activation_t: &[f32]) {
    for (g, &a) in g_t.iter_mut().zip(activation_t) {
        if a <= 0.0 {
            *g = 0.0;
        }
    }
}

/// Loss and gradients of `params` (plain values in [`ModelSpec::tensor_shapes`] order) on
/// the `n` images `pixels` (`[n, input_len]`, values in `[0, 1]`) with the reparameterisation
/// noise `noise` (`[n, latent_dim]`).
pub fn loss_and_gradients(
    spec: &ModelSpec,
    params: &[Vec<f32>],
    pixels: &[f32],
    noise: &[f32],
    beta: f64,
) -> BatchGradients {
    let layout = Layout {
        hidden: spec.hidden.len(),
    };
    let input_len = spec.input_len();
    let latent = spec.latent_dim;
    let n = pixels.len() / input_len.max(1);
    let scale = 1.0 / n.max(1) as f32;

    // Forward, feature-major, keeping every activation.
    let x_t = transpose(pixels, n, input_len);
    let mut encoder = vec![x_t];
    for i in 0..layout.hidden {
        let next = Linear::at(params, layout.encoder(i)).forward(&encoder[i], n, true);
        encoder.push(next);
    }
    let h_t = &encoder[layout.hidden];
    let mu_t = Linear::at(params, layout.mu()).forward(h_t, n, false);
    let logvar_t = Linear::at(params, layout.logvar()).forward(h_t, n, false);
    let noise_t = transpose(noise, n, latent);
    let std_t: Vec<f32> = logvar_t.iter().map(|s| (0.5 * s).exp()).collect();
    let z_t: Vec<f32> = mu_t
        .iter()
        .zip(&noise_t)
        .zip(&std_t)
        .map(|((m, e), s)| m + e * s)
        .collect();
    let mut decoder = vec![z_t];
    for i in 0..layout.hidden {
        let next = Linear::at(params, layout.decoder(i)).forward(&decoder[i], n, true);
        decoder.push(next);
    }
    let out = Linear::at(params, layout.out());
    let logits_t = out.forward(&decoder[layout.hidden], n, false);

    // Loss and ∂loss/∂logits in one pass: BCE(x, σ(l)) = max(l, 0) − x·l + ln(1 + e^−|l|).
    let x_t = &encoder[0];
    let mut logit_grad_t = vec![0.0f32; logits_t.len()];
    let mut bce = vec![0.0f32; logits_t.len()];
    let outputs = logit_grad_t.iter_mut().zip(bce.iter_mut());
    for ((g, b), (&l, &x)) in outputs.zip(logits_t.iter().zip(x_t)) {
        let e = exp_non_positive(-l.abs());
        *b = l.max(0.0) - x * l + ln_1p_unit(e);
        let sigmoid = if l >= 0.0 { 1.0 } else { e } / (1.0 + e);
        *g = (sigmoid - x) * scale;
    }
    let reconstruction_sum = sum_lanes(&bce);
    let kl_sum: f64 = mu_t
        .iter()
        .zip(&logvar_t)
        .map(|(&m, &s)| -0.5 * f64::from(1.0 + s - m * m - s.exp()))
        .sum();

    // Backward through the decoder.
    let mut grads = vec![Vec::new(); params.len()];
    let row_major = |t: &[f32], features: usize| transpose(t, features, n);
    let last = &decoder[layout.hidden];
    out.store_grads(
        &mut grads,
        layout.out(),
        &logit_grad_t,
        &row_major(last, out.input),
        n,
    );
    let mut g = out.input_grad(&row_major(&logit_grad_t, out.out), n);
    for i in (0..layout.hidden).rev() {
        let layer = Linear::at(params, layout.decoder(i));
        let mut g_t = transpose(&g, n, layer.out);
        through_relu(&mut g_t, &decoder[i + 1]);
        let input = row_major(&decoder[i], layer.input);
        layer.store_grads(&mut grads, layout.decoder(i), &g_t, &input, n);
        g = layer.input_grad(&row_major(&g_t, layer.out), n);
    }

    // Through the sampling step and the KL term to µ and log σ² (feature-major).
    let grad_z_t = transpose(&g, n, latent);
    let kl_scale = (beta * f64::from(scale)) as f32;
    let grad_mu_t: Vec<f32> = grad_z_t
        .iter()
        .zip(&mu_t)
        .map(|(g, m)| g + m * kl_scale)
        .collect();
    let grad_logvar_t: Vec<f32> = grad_z_t
        .iter()
        .zip(&noise_t)
        .zip(&std_t)
        .zip(&logvar_t)
        .map(|(((g, e), sd), s)| g * e * sd * 0.5 + (s.exp() - 1.0) * (0.5 * kl_scale))
        .collect();
    let (mu, logvar) = (
        Linear::at(params, layout.mu()),
        Linear::at(params, layout.logvar()),
    );
    let h = row_major(h_t, mu.input);
    mu.store_grads(&mut grads, layout.mu(), &grad_mu_t, &h, n);
    logvar.store_grads(&mut grads, layout.logvar(), &grad_logvar_t, &h, n);

    // Backward through the encoder; the input's own gradient is never needed.
    if layout.hidden > 0 {
        let mut g = mu.input_grad(&row_major(&grad_mu_t, latent), n);
        let from_logvar = logvar.input_grad(&row_major(&grad_logvar_t, latent), n);
        g.iter_mut().zip(&from_logvar).for_each(|(a, b)| *a += b);
        for i in (0..layout.hidden).rev() {
            let layer = Linear::at(params, layout.encoder(i));
            let mut g_t = transpose(&g, n, layer.out);
            through_relu(&mut g_t, &encoder[i + 1]);
            let transposed;
            let input = match i {
                0 => &pixels[..n * input_len],
                _ => {
                    transposed = row_major(&encoder[i], layer.input);
                    &transposed[..]
                }
            };
            layer.store_grads(&mut grads, layout.encoder(i), &g_t, input, n);
            if i > 0 {
                g = layer.input_grad(&row_major(&g_t, layer.out), n);
            }
        }
    }

    BatchGradients {
        loss_sum: reconstruction_sum + beta * kl_sum,
        kl_sum,
        grads,
    }
}
