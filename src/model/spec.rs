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
    /// Fully connected plain autoencoder: encoder → code, decoder → image.
    MlpAe,
    /// Convolutional variational autoencoder: strided convolutions → (µ, log σ²), transposed
    /// convolutions → image.
    ConvVae,
    /// Convolutional plain autoencoder, the same layers with a `code` head.
    ConvAe,
    /// A DCGAN generator (pytorch/examples): transposed convolutions with batch norm, no
    /// encoder.
    DcganGenerator,
}

impl ModelKind {
    /// Every kind, in the order the README lists them.
    pub const ALL: [Self; 5] = [
        Self::MlpVae,
        Self::MlpAe,
        Self::ConvVae,
        Self::ConvAe,
        Self::DcganGenerator,
    ];

    /// The name stored in the checkpoint's `kind` key.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MlpVae => "mlp-vae",
            Self::MlpAe => "mlp-ae",
            Self::ConvVae => "conv-vae",
            Self::ConvAe => "conv-ae",
            Self::DcganGenerator => "dcgan-generator",
        }
    }

    /// What the user reads in the Model panel.
    pub fn description(self) -> &'static str {
        match self {
            Self::MlpVae => "fully connected VAE",
            Self::MlpAe => "fully connected autoencoder",
            Self::ConvVae => "convolutional VAE",
            Self::ConvAe => "convolutional autoencoder",
            Self::DcganGenerator => "DCGAN generator (decoder only)",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// True when the model can map images to latents.
    pub fn has_encoder(self) -> bool {
        !matches!(self, Self::DcganGenerator)
    }

    /// True when the encoder gives a distribution (µ, log σ²) rather than one code.
    pub fn is_variational(self) -> bool {
        matches!(self, Self::MlpVae | Self::ConvVae)
    }

    /// True for the convolutional kinds, which need the `channels` key.
    pub fn is_convolutional(self) -> bool {
        matches!(self, Self::ConvVae | Self::ConvAe | Self::DcganGenerator)
    }

    /// The name of the layer that gives z: `mu` for a VAE, `code` for a plain autoencoder.
    pub fn latent_head(self) -> &'static str {
        if self.is_variational() { "mu" } else { "code" }
    }
}

/// The decoder's last activation, which maps its output into pixel range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputActivation {
    /// `1 / (1 + e^-x)`: pixels in `[0, 1]`.
    Sigmoid,
    /// `tanh x`: pixels in `[-1, 1]`, as GANs trained on normalised images give.
    Tanh,
    /// No activation: the raw output, shown clamped to `[0, 1]`.
    Identity,
}

impl OutputActivation {
    /// The name stored in the checkpoint's `output_activation` key.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sigmoid => "sigmoid",
            Self::Tanh => "tanh",
            Self::Identity => "none",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Sigmoid, Self::Tanh, Self::Identity]
            .into_iter()
            .find(|a| a.as_str() == text)
    }

    /// Maps one output value to display range `[0, 1]`.
    pub fn to_unit(self, value: f32) -> f32 {
        let unit = match self {
            Self::Sigmoid | Self::Identity => value,
            Self::Tanh => 0.5 * (value + 1.0),
        };
        if unit.is_nan() {
            0.0
        } else {
            unit.clamp(0.0, 1.0)
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
    /// Epochs over which β ramped up from 0 (0: none).
    #[serde(default)]
    pub kl_warmup_epochs: f64,
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
    /// Widths of the encoder's fully connected hidden layers; the decoder mirrors them.
    pub hidden: Vec<usize>,
    /// Convolutional kinds: the output channels of each strided convolution of the encoder
    /// (the decoder mirrors them), or of each batch-normalised layer of a DCGAN generator.
    /// Empty for the fully connected kinds.
    pub channels: Vec<usize>,
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
    /// Linear weights are `[out, in]` and convolution weights `[out, in, 4, 4]` as in
    /// PyTorch; transposed convolutions are `[in, out, 4, 4]`; biases `[out]`.
    pub fn tensor_shapes(&self) -> Vec<(String, Vec<usize>)> {
        match self.kind {
            ModelKind::MlpVae | ModelKind::MlpAe => self.mlp_shapes(),
            ModelKind::ConvVae | ModelKind::ConvAe => self.conv_shapes(),
            ModelKind::DcganGenerator => self.dcgan_shapes(),
        }
    }

    fn mlp_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut shapes = Vec::new();
        let mut width = self.input_len();
        for (i, &h) in self.hidden.iter().enumerate() {
            push_linear(&mut shapes, &format!("encoder.{i}"), width, h);
            width = h;
        }
        self.push_heads(&mut shapes, width);

        let mut width = self.latent_dim;
        for (i, &h) in self.hidden.iter().rev().enumerate() {
            push_linear(&mut shapes, &format!("decoder.{i}"), width, h);
            width = h;
        }
        push_linear(&mut shapes, "decoder.out", width, self.input_len());
        shapes
    }

    fn push_heads(&self, shapes: &mut Vec<(String, Vec<usize>)>, width: usize) {
        push_linear(shapes, self.kind.latent_head(), width, self.latent_dim);
        if self.kind.is_variational() {
            push_linear(shapes, "logvar", width, self.latent_dim);
        }
    }

    /// The side of the feature map after the encoder's strided convolutions, `[h, w]`.
    pub fn conv_map_size(&self) -> [usize; 2] {
        let factor = 1usize << self.channels.len().min(16);
        [self.input_shape[1] / factor, self.input_shape[2] / factor]
    }

    /// Values in the feature map the convolutions leave: channels × height × width.
    pub fn conv_flat_len(&self) -> usize {
        let [h, w] = self.conv_map_size();
        self.channels.last().copied().unwrap_or(0) * h * w
    }

    fn conv_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut shapes = Vec::new();
        let mut input = self.input_shape[0];
        for (i, &c) in self.channels.iter().enumerate() {
            shapes.push((format!("encoder.conv.{i}.weight"), vec![c, input, 4, 4]));
            shapes.push((format!("encoder.conv.{i}.bias"), vec![c]));
            input = c;
        }
        let mut width = self.conv_flat_len();
        for (j, &h) in self.hidden.iter().enumerate() {
            push_linear(&mut shapes, &format!("encoder.fc.{j}"), width, h);
            width = h;
        }
        self.push_heads(&mut shapes, width);

        let mut widths = vec![self.latent_dim];
        widths.extend(self.hidden.iter().rev());
        widths.push(self.conv_flat_len());
        for (j, pair) in widths.windows(2).enumerate() {
            push_linear(&mut shapes, &format!("decoder.fc.{j}"), pair[0], pair[1]);
        }
        let mut reversed: Vec<usize> = self.channels.iter().rev().copied().collect();
        reversed.push(self.input_shape[0]);
        for (i, pair) in reversed.windows(2).enumerate() {
            shapes.push((
                format!("decoder.deconv.{i}.weight"),
                vec![pair[0], pair[1], 4, 4],
            ));
            shapes.push((format!("decoder.deconv.{i}.bias"), vec![pair[1]]));
        }
        shapes
    }

    fn dcgan_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut shapes = Vec::new();
        let mut input = self.latent_dim;
        for (i, &c) in self.channels.iter().enumerate() {
            shapes.push((format!("main.{}.weight", 3 * i), vec![input, c, 4, 4]));
            for part in ["weight", "bias", "running_mean", "running_var"] {
                shapes.push((format!("main.{}.{part}", 3 * i + 1), vec![c]));
            }
            input = c;
        }
        let last = 3 * self.channels.len();
        shapes.push((
            format!("main.{last}.weight"),
            vec![input, self.input_shape[0], 4, 4],
        ));
        shapes
    }

    /// Why this spec cannot describe a working network, or `None` when it can.
    pub fn problem(&self) -> Option<SpecError> {
        let bad = |key: &str, problem: String| {
            Some(SpecError {
                key: key.into(),
                problem,
            })
        };
        let [c, h, w] = self.input_shape;
        if self.input_shape.iter().any(|&d| d == 0 || d > 1 << 16) {
            return bad(
                "input_shape",
                format!("is [{c}, {h}, {w}]: every size must be 1 to 65536"),
            );
        }
        if self.latent_dim == 0 || self.latent_dim > 1 << 16 {
            return bad(
                "latent_dim",
                format!("is {}: expected 1 to 65536", self.latent_dim),
            );
        }
        if self
            .hidden
            .iter()
            .chain(&self.channels)
            .any(|&d| d == 0 || d > 1 << 16)
        {
            return bad("hidden", "widths and channels must be 1 to 65536".into());
        }
        let layers = self.channels.len();
        match self.kind {
            ModelKind::MlpVae | ModelKind::MlpAe if layers > 0 => bad(
                "channels",
                format!(
                    "is set, but a {} has no convolutions",
                    self.kind.description()
                ),
            ),
            ModelKind::ConvVae | ModelKind::ConvAe | ModelKind::DcganGenerator if layers == 0 => {
                bad(
                    "channels",
                    "is missing or empty: a convolutional model needs at least one layer".into(),
                )
            }
            ModelKind::ConvVae | ModelKind::ConvAe => {
                let factor = 1usize << layers.min(16);
                (layers > 12 || h % factor != 0 || w % factor != 0).then(|| SpecError {
                    key: "input_shape".into(),
                    problem: format!(
                        "is [{c}, {h}, {w}]: {layers} stride-2 convolutions need a height and width divisible by {factor}"
                    ),
                })
            }
            ModelKind::DcganGenerator => {
                let side = 4usize << layers.min(12);
                (layers > 12 || h != side || w != side || !self.hidden.is_empty()).then(|| SpecError {
                    key: "input_shape".into(),
                    problem: format!(
                        "is [{c}, {h}, {w}]: a DCGAN generator with {layers} batch-normalised layers draws {side}×{side} images"
                    ),
                })
            }
            _ => None,
        }
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
        if !self.channels.is_empty() {
            map.insert("channels".into(), to_json(&self.channels));
        }
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

    /// Reads a spec back from a safetensors metadata map written by this app.
    pub fn from_metadata(map: &HashMap<String, String>) -> Result<Self, SpecError> {
        let format = map.get("format").ok_or_else(|| SpecError {
            key: "format".into(),
            problem: "is missing".into(),
        })?;
        if format != FORMAT_TAG {
            return Err(SpecError {
                key: "format".into(),
                problem: format!("has value {format:?}: expected {FORMAT_TAG}"),
            });
        }
        Self::from_fields(map)
    }

    /// Reads a spec from the text of a sidecar `config.json`, whose keys are those of the
    /// metadata (see the README) as JSON values rather than strings.
    pub fn from_config_json(text: &str) -> Result<Self, SpecError> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| SpecError {
            key: "config.json".into(),
            problem: format!("is not valid JSON: {e}"),
        })?;
        let serde_json::Value::Object(object) = value else {
            return Err(SpecError {
                key: "config.json".into(),
                problem: "is not a JSON object".into(),
            });
        };
        let map = object
            .into_iter()
            .map(|(key, value)| match value {
                serde_json::Value::String(text) => (key, text),
                other => (key, other.to_string()),
            })
            .collect();
        Self::from_fields(&map)
    }

    /// The keys shared by metadata and `config.json`, every value as text.
    fn from_fields(map: &HashMap<String, String>) -> Result<Self, SpecError> {
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
        let kinds = ModelKind::ALL.map(ModelKind::as_str).join(", ");

        let kind_text = get("kind")?;
        let kind = ModelKind::parse(kind_text)
            .ok_or_else(|| bad("kind", kind_text, &format!("one of {kinds}")))?;

        let shape_text = get("input_shape")?;
        let input_shape: [usize; 3] = serde_json::from_str::<Vec<usize>>(shape_text)
            .ok()
            .and_then(|v| v.try_into().ok())
            .filter(|s: &[usize; 3]| s.iter().all(|&d| d > 0))
            .ok_or_else(|| bad("input_shape", shape_text, "[channels, height, width]"))?;

        let widths = |key: &str| -> Result<Vec<usize>, SpecError> {
            match map.get(key) {
                None => Ok(Vec::new()),
                Some(text) => serde_json::from_str(text)
                    .ok()
                    .filter(|h: &Vec<usize>| h.iter().all(|&w| w > 0))
                    .ok_or_else(|| bad(key, text, "a JSON list of positive widths")),
            }
        };
        if !kind.is_convolutional() {
            get("hidden")?;
        }
        let hidden = widths("hidden")?;
        let channels = widths("channels")?;

        let latent_text = get("latent_dim")?;
        let latent_dim = latent_text
            .parse::<usize>()
            .ok()
            .filter(|&d| d > 0)
            .ok_or_else(|| bad("latent_dim", latent_text, "a positive integer"))?;

        let output_activation = match map.get("output_activation") {
            Some(text) => OutputActivation::parse(text)
                .ok_or_else(|| bad("output_activation", text, "sigmoid, tanh or none"))?,
            None if kind == ModelKind::DcganGenerator => OutputActivation::Tanh,
            None => OutputActivation::Sigmoid,
        };

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

        let spec = Self {
            kind,
            input_shape,
            hidden,
            channels,
            latent_dim,
            output_activation,
            dataset: map.get("dataset").cloned().unwrap_or_default(),
            class_names,
            training,
        };
        match spec.problem() {
            Some(problem) => Err(problem),
            None => Ok(spec),
        }
    }
}

/// Adds a linear layer's weight `[output, input]` and bias `[output]`.
fn push_linear(shapes: &mut Vec<(String, Vec<usize>)>, name: &str, input: usize, output: usize) {
    shapes.push((format!("{name}.weight"), vec![output, input]));
    shapes.push((format!("{name}.bias"), vec![output]));
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
            channels: Vec::new(),
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
