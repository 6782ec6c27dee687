//! Recognising an architecture from a bare state dict's tensor names and shapes.
//!
//! Known layouts:
//! - the pytorch/examples VAE (`fc1`, `fc21`, `fc22`, `fc3`, `fc4`; 784 → 400 → 20 there, any
//!   sizes here), renamed to this app's names;
//! - the pytorch/examples DCGAN generator (`main.N.*`: transposed convolutions, each but the
//!   last followed by batch norm and ReLU, the last by tanh);
//! - this app's own names without metadata (`encoder.0`, `mu`, `logvar`, …, and the
//!   convolutional `encoder.conv.N`), for files saved from the Python side of a project.

use std::collections::{BTreeMap, HashMap};

use super::RawTensor;
use crate::model::spec::{ModelKind, ModelSpec, OutputActivation};

/// A recognised architecture: its spec, how to rename the file's tensors to ours, and a name
/// for the layout shown to the user.
#[derive(Debug)]
pub struct Recognised {
    /// The architecture.
    pub spec: ModelSpec,
    /// The file's name → this app's name, for tensors whose names differ.
    pub renames: HashMap<String, String>,
    /// E.g. "the pytorch/examples VAE".
    pub layout: &'static str,
}

/// The architecture `tensors` describe, if their names and shapes match a known layout.
pub fn recognise(tensors: &BTreeMap<String, RawTensor>) -> Option<Recognised> {
    pytorch_examples_vae(tensors)
        .or_else(|| dcgan_generator(tensors))
        .or_else(|| own_mlp(tensors))
        .or_else(|| own_conv(tensors))
}

fn shape<'a>(tensors: &'a BTreeMap<String, RawTensor>, name: &str) -> Option<&'a [usize]> {
    tensors.get(name).map(|t| t.shape.as_slice())
}

/// A plausible image shape for `len` input values: square grey, then square RGB, else a row.
fn image_shape(len: usize) -> [usize; 3] {
    let side = |n: usize| {
        let s = (n as f64).sqrt().round() as usize;
        (s.checked_mul(s) == Some(n)).then_some(s)
    };
    if let Some(s) = side(len) {
        [1, s, s]
    } else if let Some(s) = len.is_multiple_of(3).then(|| side(len / 3)).flatten() {
        [3, s, s]
    } else {
        [1, 1, len]
    }
}

fn spec(
    kind: ModelKind,
    input_shape: [usize; 3],
    hidden: Vec<usize>,
    channels: Vec<usize>,
    latent_dim: usize,
) -> ModelSpec {
    ModelSpec {
        kind,
        input_shape,
        hidden,
        channels,
        latent_dim,
        output_activation: match kind {
            ModelKind::DcganGenerator => OutputActivation::Tanh,
            _ => OutputActivation::Sigmoid,
        },
        dataset: String::new(),
        class_names: Vec::new(),
        training: None,
    }
}

fn pytorch_examples_vae(tensors: &BTreeMap<String, RawTensor>) -> Option<Recognised> {
    const LAYERS: [(&str, &str); 5] = [
        ("fc1", "encoder.0"),
        ("fc21", "mu"),
        ("fc22", "logvar"),
        ("fc3", "decoder.0"),
        ("fc4", "decoder.out"),
    ];
    if tensors.len() != 10 {
        return None;
    }
    let fc1 = shape(tensors, "fc1.weight")?;
    let fc21 = shape(tensors, "fc21.weight")?;
    let (&[hidden, input], &[latent, _]) = (fc1, fc21) else {
        return None;
    };
    let mut renames = HashMap::new();
    for (theirs, ours) in LAYERS {
        for part in ["weight", "bias"] {
            let name = format!("{theirs}.{part}");
            tensors.get(&name)?;
            renames.insert(name, format!("{ours}.{part}"));
        }
    }
    Some(Recognised {
        spec: spec(
            ModelKind::MlpVae,
            image_shape(input),
            vec![hidden],
            Vec::new(),
            latent,
        ),
        renames,
        layout: "the pytorch/examples VAE (fc1, fc21, fc22, fc3, fc4)",
    })
}

fn dcgan_generator(tensors: &BTreeMap<String, RawTensor>) -> Option<Recognised> {
    if !tensors.keys().all(|k| k.starts_with("main.")) {
        return None;
    }
    // Transposed convolutions at main.0, main.3, main.6, …; the last has no batch norm.
    let mut convs = Vec::new();
    while let Some(&[input, output, 4, 4]) =
        shape(tensors, &format!("main.{}.weight", 3 * convs.len()))
    {
        convs.push((input, output));
    }
    let (&(latent, _), &(_, image_channels)) = (convs.first()?, convs.last()?);
    let channels: Vec<usize> = convs[..convs.len() - 1]
        .iter()
        .map(|&(_, out)| out)
        .collect();
    let side = 4usize.checked_shl(u32::try_from(channels.len()).ok()?)?;
    Some(Recognised {
        spec: spec(
            ModelKind::DcganGenerator,
            [image_channels, side, side],
            Vec::new(),
            channels,
            latent,
        ),
        renames: HashMap::new(),
        layout: "the pytorch/examples DCGAN generator (main.N)",
    })
}

fn own_mlp(tensors: &BTreeMap<String, RawTensor>) -> Option<Recognised> {
    let kind = if tensors.contains_key("logvar.weight") && tensors.contains_key("mu.weight") {
        ModelKind::MlpVae
    } else if tensors.contains_key("code.weight") {
        ModelKind::MlpAe
    } else {
        return None;
    };
    let mut hidden = Vec::new();
    let mut input = None;
    while let Some(&[out, inp]) = shape(tensors, &format!("encoder.{}.weight", hidden.len())) {
        input.get_or_insert(inp);
        hidden.push(out);
    }
    let &[latent, head_in] = shape(tensors, &format!("{}.weight", kind.latent_head()))? else {
        return None;
    };
    let input = input.unwrap_or(head_in);
    let &[output, _] = shape(tensors, "decoder.out.weight")? else {
        return None;
    };
    (output == input).then(|| Recognised {
        spec: spec(kind, image_shape(input), hidden, Vec::new(), latent),
        renames: HashMap::new(),
        layout: "latent-explorer's own tensor names",
    })
}

fn own_conv(tensors: &BTreeMap<String, RawTensor>) -> Option<Recognised> {
    let kind = if tensors.contains_key("logvar.weight") {
        ModelKind::ConvVae
    } else if tensors.contains_key("code.weight") {
        ModelKind::ConvAe
    } else {
        return None;
    };
    let mut channels = Vec::new();
    let mut image_channels = None;
    while let Some(&[out, inp, 4, 4]) =
        shape(tensors, &format!("encoder.conv.{}.weight", channels.len()))
    {
        image_channels.get_or_insert(inp);
        channels.push(out);
    }
    let mut hidden = Vec::new();
    let mut flat = None;
    while let Some(&[out, inp]) = shape(tensors, &format!("encoder.fc.{}.weight", hidden.len())) {
        flat.get_or_insert(inp);
        hidden.push(out);
    }
    let &[latent, head_in] = shape(tensors, &format!("{}.weight", kind.latent_head()))? else {
        return None;
    };
    let flat = flat.unwrap_or(head_in);
    let top = *channels.last()?;
    // The encoder's map is square: flat = top · s², and the image side is s · 2^layers.
    let cells = flat.checked_div(top)?;
    let s = (cells as f64).sqrt().round() as usize;
    if s.checked_mul(s) != Some(cells) || s == 0 {
        return None;
    }
    let side = s.checked_shl(u32::try_from(channels.len()).ok()?)?;
    Some(Recognised {
        spec: spec(
            kind,
            [image_channels?, side, side],
            hidden,
            channels,
            latent,
        ),
        renames: HashMap::new(),
        layout: "latent-explorer's own convolutional tensor names (square images assumed)",
    })
}
