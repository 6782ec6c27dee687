//! Adam (Kingma & Ba, 2015) fused into one pass per parameter over plain arrays.
//!
//! candle-nn's optimiser spends about sixteen tensor operations per parameter on each step,
//! each allocating and sweeping an array as large as the parameter; for the 648k weights of
//! the bundled VAE that was a third of a training step. Here the moments live in `Vec<f32>`
//! and one loop reads the gradient once and writes the moments and the weight once.

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Result, Tensor, Var};

/// Adam's step size and decay rates; the defaults are PyTorch's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Step size.
    pub learning_rate: f64,
    /// Decay of the first moment.
    pub beta1: f64,
    /// Decay of the second moment.
    pub beta2: f64,
    /// Added to the root of the second moment so the step stays finite.
    pub eps: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            learning_rate: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// One trained variable with its moments and a plain copy of its values.
struct Slot {
    var: Var,
    values: Vec<f32>,
    first: Vec<f32>,
    second: Vec<f32>,
}

/// The optimiser: owns the moments of every variable it updates.
pub struct Adam {
    config: AdamConfig,
    slots: Vec<Slot>,
    step: i32,
}

impl Adam {
    /// Starts with zero moments for each of `vars`.
    pub fn new(vars: Vec<Var>, config: AdamConfig) -> Result<Self> {
        let slots = vars
            .into_iter()
            .map(|var| {
                let values: Vec<f32> = var
                    .as_tensor()
                    .to_dtype(DType::F32)?
                    .flatten_all()?
                    .to_vec1()?;
                let zeros = vec![0.0; values.len()];
                Ok(Slot {
                    var,
                    first: zeros.clone(),
                    second: zeros,
                    values,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            config,
            slots,
            step: 0,
        })
    }

    /// Back-propagates `loss` and takes one step on every variable.
    pub fn backward_step(&mut self, loss: &Tensor) -> Result<()> {
        let grads = loss.backward()?;
        self.apply(&grads)
    }

    /// Takes one step with the gradients in `grads`; variables without one are left as they are.
    pub fn apply(&mut self, grads: &GradStore) -> Result<()> {
        self.step += 1;
        let c = self.config;
        let (beta1, beta2) = (c.beta1 as f32, c.beta2 as f32);
        let first_scale = 1.0 / (1.0 - c.beta1.powi(self.step)) as f32;
        let second_scale = 1.0 / (1.0 - c.beta2.powi(self.step)) as f32;
        let (lr, eps) = (c.learning_rate as f32, c.eps as f32);

        for slot in &mut self.slots {
            let Some(grad) = grads.get(slot.var.as_tensor()) else {
                continue;
            };
            let grad: Vec<f32> = grad.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
            let moments = slot.first.iter_mut().zip(slot.second.iter_mut());
            for ((w, (m, v)), g) in slot.values.iter_mut().zip(moments).zip(&grad) {
                *m = beta1 * *m + (1.0 - beta1) * g;
                *v = beta2 * *v + (1.0 - beta2) * g * g;
                let m_hat = *m * first_scale;
                let v_hat = *v * second_scale;
                *w -= lr * m_hat / (v_hat.sqrt() + eps);
            }
            let updated = Tensor::from_slice(&slot.values, slot.var.shape(), &Device::Cpu)?;
            slot.var.set(&updated)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Minimising (w − 3)² from w = 0 must approach 3.
    #[test]
    fn adam_minimises_a_quadratic() -> Result<()> {
        let var = Var::from_tensor(&Tensor::new(&[0.0f32], &Device::Cpu)?)?;
        let config = AdamConfig {
            learning_rate: 0.1,
            ..AdamConfig::default()
        };
        let mut adam = Adam::new(vec![var.clone()], config)?;
        for _ in 0..500 {
            let loss = (var.as_tensor() - 3.0)?.sqr()?.sum_all()?;
            adam.backward_step(&loss)?;
        }
        let w = var.as_tensor().to_vec1::<f32>()?[0];
        assert!((w - 3.0).abs() < 1e-2, "w = {w}");
        Ok(())
    }

    /// The first step of Adam moves every weight by the learning rate against its gradient's sign.
    #[test]
    fn the_first_step_has_the_learning_rate_as_its_size() -> Result<()> {
        let var = Var::from_tensor(&Tensor::new(&[1.0f32, -2.0], &Device::Cpu)?)?;
        let mut adam = Adam::new(vec![var.clone()], AdamConfig::default())?;
        let loss = (var.as_tensor() * &Tensor::new(&[5.0f32, -0.5], &Device::Cpu)?)?.sum_all()?;
        adam.backward_step(&loss)?;
        let w = var.as_tensor().to_vec1::<f32>()?;
        assert!((w[0] - (1.0 - 1e-3)).abs() < 1e-6, "{w:?}");
        assert!((w[1] - (-2.0 + 1e-3)).abs() < 1e-6, "{w:?}");
        Ok(())
    }
}
