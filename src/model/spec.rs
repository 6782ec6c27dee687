//! What a checkpoint says about its model: enough to rebuild the network and label its data.
//!
//! The spec travels in the `.safetensors` header's `__metadata__` map, which holds strings
//! only; lists and records are stored as JSON text. The README documents every key.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Value of the `format` key in every checkpoint this app writes.
pub const FORMAT_TAG: &str = "latent-explorer.v1";

/// The architectures this app can rebuild from a spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelKind {
    /// Fully connected variational autoencoder: encoder → (µ, log σ²), decoder → image.
    MlpVae,
}

impl ModelKind {
    /// The name stored in the checkpoint's `kind` key.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MlpVae => "mlp-vae",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "mlp-vae" => Some(Self::MlpVae),
            _ => None,
        }
    }
}

/// The decoder's last activation, which maps its output into pixel range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputActivation {
    /// `1 / (1 + e^-x)`: pixels in `[0, 1]`.
    Sigmoid,
}

impl OutputActivation {
    /// The name stored in the checkpoint's `output_activation` key.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sigmoid => "sigmoid",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "sigmoid" => Some(Self::Sigmoid),
            _ => None,
        }
    }
}

/// How a model was trained and how well it did; shown to the user, never needed to run it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingFacts {
    /// Passes over the training set.
    pub epochs: usize,
    /// Images per optimiser step.
    pub batch_size: usize,
    /// Adam's step size.
    pub learning_rate: f64,
    /// Weight of the KL term.
    pub beta: f64,
    /// Seed of every random choice in training.
    pub seed: u64,
    /// Number of training images.
    pub train_images: usize,
    /// Mean per-image binary cross-entropy (nats) on the held-out set, if one was given.
    pub test_reconstruction: Option<f64>,
    /// Mean per-image KL divergence (nats) on the held-out set, if one was given.
    pub test_kl: Option<f64>,
    /// Wall time of the whole run.
    pub elapsed_secs: f64,
    /// The command line that trained the model.
    pub command: String,
}

/// Everything needed to rebuild a model from its tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// The architecture.
    pub kind: ModelKind,
    /// Input shape `[channels, height, width]`.
    pub input_shape: [usize; 3],
    /// Widths of the encoder's hidden layers; the decoder mirrors them.
    pub hidden: Vec<usize>,
    /// Size of z.
    pub latent_dim: usize,
    /// The decoder's last activation.
    pub output_activation: OutputActivation,
    /// Name of the dataset the model was trained on.
    pub dataset: String,
    /// Name of each label, in label order.
    pub class_names: Vec<String>,
    /// How the model was trained, when known.
    pub training: Option<TrainingFacts>,
}

/// A metadata key that is missing or cannot be understood.
#[derive(Debug, thiserror::Error)]
#[error("metadata key \"{key}\" {problem}")]
pub struct SpecError {
    /// The key.
    pub key: String,
    /// What is wrong with it, e.g. `is missing` or `has value "x": expected …`.
    pub problem: String,
}

impl ModelSpec {
    /// Number of values in one input image.
    pub fn input_len(&self) -> usize {
        self.input_shape.iter().product()
    }

    /// The shape of one input (and decoded) image.
    pub fn image_shape(&self) -> crate::data::ImageShape {
        let [channels, height, width] = self.input_shape;
        crate::data::ImageShape {
            channels,
            height,
            width,
        }
    }

    /// Why images of `shape` cannot be fed to this model, or `None` when they can.
    pub fn input_mismatch(&self, shape: crate::data::ImageShape) -> Option<String> {
        (shape != self.image_shape()).then(|| {
            let [c, h, w] = self.input_shape;
            format!(
                "images are {}×{}×{} (channels×height×width) but the model expects {c}×{h}×{w}",
                shape.channels, shape.height, shape.width
            )
        })
    }

    /// Every tensor the model needs, as `(name, shape)`, encoder first.
    ///
    /// Linear weights are `[out, in]` as in PyTorch, biases `[out]`.
    pub fn tensor_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut shapes = Vec::new();
        let mut linear = |name: String, input: usize, output: usize| {
            shapes.push((format!("{name}.weight"), vec![output, input]));
            shapes.push((format!("{name}.bias"), vec![output]));
        };

        let mut width = self.input_len();
        for (i, &h) in self.hidden.iter().enumerate() {
            linear(format!("encoder.{i}"), width, h);
            width = h;
        }
        linear("mu".into(), width, self.latent_dim);
        linear("logvar".into(), width, self.latent_dim);

        let mut width = self.latent_dim;
        for (i, &h) in self.hidden.iter().rev().enumerate() {
            linear(format!("decoder.{i}"), width, h);
            width = h;
        }
        linear("decoder.out".into(), width, self.input_len());
        shapes
    }

    /// Number of trainable values.
    pub fn parameter_count(&self) -> usize {
        self.tensor_shapes()
            .iter()
            .map(|(_, shape)| shape.iter().product::<usize>())
            .sum()
    }

    /// The spec as a safetensors metadata map.
    pub fn to_metadata(&self) -> HashMap<String, String> {
        let mut map = HashMap::new();
        map.insert("format".into(), FORMAT_TAG.into());
        map.insert("kind".into(), self.kind.as_str().into());
        map.insert("input_shape".into(), to_json(&self.input_shape));
        map.insert("hidden".into(), to_json(&self.hidden));
        map.insert("latent_dim".into(), self.latent_dim.to_string());
        map.insert(
            "output_activation".into(),
            self.output_activation.as_str().into(),
        );
        map.insert("dataset".into(), self.dataset.clone());
        map.insert("class_names".into(), to_json(&self.class_names));
        if let Some(training) = &self.training {
            map.insert("training".into(), to_json(training));
        }
        map
    }

    /// Reads a spec back from a safetensors metadata map.
    pub fn from_metadata(map: &HashMap<String, String>) -> Result<Self, SpecError> {
        let get = |key: &str| {
            map.get(key).ok_or_else(|| SpecError {
                key: key.into(),
                problem: "is missing".into(),
            })
        };
        let bad = |key: &str, value: &str, expected: &str| SpecError {
            key: key.into(),
            problem: format!("has value {value:?}: expected {expected}"),
        };

        let format = get("format")?;
        if format != FORMAT_TAG {
            return Err(bad("format", format, FORMAT_TAG));
        }
        let kind_text = get("kind")?;
        let kind = ModelKind::parse(kind_text).ok_or_else(|| bad("kind", kind_text, "mlp-vae"))?;

        let shape_text = get("input_shape")?;
        let input_shape: [usize; 3] = serde_json::from_str::<Vec<usize>>(shape_text)
            .ok()
            .and_then(|v| v.try_into().ok())
            .filter(|s: &[usize; 3]| s.iter().all(|&d| d > 0))
            .ok_or_else(|| bad("input_shape", shape_text, "[channels, height, width]"))?;

        let hidden_text = get("hidden")?;
        let hidden: Vec<usize> = serde_json::from_str(hidden_text)
            .ok()
            .filter(|h: &Vec<usize>| h.iter().all(|&w| w > 0))
            .ok_or_else(|| bad("hidden", hidden_text, "a JSON list of positive widths"))?;

        let latent_text = get("latent_dim")?;
        let latent_dim = latent_text
            .parse::<usize>()
            .ok()
            .filter(|&d| d > 0)
            .ok_or_else(|| bad("latent_dim", latent_text, "a positive integer"))?;

        let activation_text = get("output_activation")?;
        let output_activation = OutputActivation::parse(activation_text)
            .ok_or_else(|| bad("output_activation", activation_text, "sigmoid"))?;

        let class_names = match map.get("class_names") {
            Some(text) => serde_json::from_str(text)
                .map_err(|_| bad("class_names", text, "a JSON list of strings"))?,
            None => Vec::new(),
        };
        let training = match map.get("training") {
            Some(text) => Some(
                serde_json::from_str(text)
                    .map_err(|e| bad("training", text, &format!("a training record ({e})")))?,
            ),
            None => None,
        };

        Ok(Self {
            kind,
            input_shape,
            hidden,
            latent_dim,
            output_activation,
            dataset: map.get("dataset").cloned().unwrap_or_default(),
            class_names,
            training,
        })
    }
}

/// Serialising our own plain types (numbers, strings, lists of them) to JSON cannot fail.
fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ModelSpec {
        ModelSpec {
            kind: ModelKind::MlpVae,
            input_shape: [1, 28, 28],
            hidden: vec![400],
            latent_dim: 16,
            output_activation: OutputActivation::Sigmoid,
            dataset: "fashion-mnist train".into(),
            class_names: vec!["a".into(), "b".into()],
            training: Some(TrainingFacts {
                epochs: 3,
                ..TrainingFacts::default()
            }),
        }
    }

    #[test]
    fn metadata_round_trips() {
        let spec = spec();
        let back = ModelSpec::from_metadata(&spec.to_metadata()).ok();
        assert_eq!(back, Some(spec));
    }

    #[test]
    fn tensor_shapes_mirror_the_encoder() {
        let shapes = spec().tensor_shapes();
        assert_eq!(shapes.len(), 10);
        assert_eq!(shapes[0], ("encoder.0.weight".into(), vec![400, 784]));
        assert_eq!(shapes[2], ("mu.weight".into(), vec![16, 400]));
        assert_eq!(shapes[6], ("decoder.0.weight".into(), vec![400, 16]));
        assert_eq!(shapes[8], ("decoder.out.weight".into(), vec![784, 400]));
        assert_eq!(
            spec().parameter_count(),
            2 * 784 * 400 + 2 * 400 + 784 + 3 * 16 * 400 + 2 * 16
        );
    }

    #[test]
    fn bad_latent_dim_is_named() {
        let mut map = spec().to_metadata();
        map.insert("latent_dim".into(), "zero".into());
        let message = ModelSpec::from_metadata(&map).err().map(|e| e.to_string());
        assert_eq!(
            message.as_deref(),
            Some("metadata key \"latent_dim\" has value \"zero\": expected a positive integer")
        );
    }
}
