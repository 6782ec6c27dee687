//! The Model panel: what is open and how it was read.

use crate::app::map_job::MapSource;
use crate::app::session::Session;

/// Draws the facts of the open model and dataset as a two-column grid.
pub fn model_panel_ui(ui: &mut egui::Ui, session: &Session, map_source: Option<MapSource>) {
    let model = &session.model;
    let spec = model.spec();
    let [c, h, w] = spec.input_shape;
    let source = &session.source;
    egui::Grid::new("model_facts")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            let row = |ui: &mut egui::Ui, key: &str, value: String| {
                ui.label(egui::RichText::new(key).weak());
                ui.label(value);
                ui.end_row();
            };
            row(ui, "architecture", spec.kind.description().to_owned());
            row(ui, "latent size", spec.latent_dim.to_string());
            row(
                ui,
                "image",
                format!("{c}×{h}×{w} (channels × height × width)"),
            );
            if !spec.channels.is_empty() {
                row(ui, "conv channels", format!("{:?}", spec.channels));
            }
            if !spec.hidden.is_empty() {
                row(ui, "hidden widths", format!("{:?}", spec.hidden));
            }
            row(ui, "output", spec.output_activation.as_str().to_owned());
            row(ui, "parameters", group_thousands(model.parameter_count()));
            row(ui, "format", source.format.to_string());
            row(ui, "weights stored as", source.stored_dtypes.join(", "));
            row(ui, "architecture from", source.architecture.to_string());
            row(ui, "file", source.path.display().to_string());
            if let Some(training) = &spec.training {
                row(
                    ui,
                    "trained",
                    format!(
                        "{} epochs, β = {}, seed {}",
                        training.epochs, training.beta, training.seed
                    ),
                );
            }
            row(
                ui,
                "dataset",
                format!(
                    "{} ({} images)",
                    session.raw_dataset.name,
                    session.raw_dataset.len()
                ),
            );
            if let Some(conversion) = &session.conversion {
                row(ui, "converted", conversion.clone());
            }
        });
    for note in source.notes.iter().chain(&session.raw_dataset.notes) {
        ui.label(egui::RichText::new(note).weak());
    }
    if map_source == Some(MapSource::PriorSamples) || !model.has_encoder() {
        ui.label(
            egui::RichText::new(
                "This model has no encoder, so the dataset cannot be placed on the map: the map shows samples from the prior instead.",
            )
            .color(ui.visuals().warn_fg_color),
        );
    } else if !model.is_variational() {
        ui.label(
            egui::RichText::new(
                "A plain autoencoder has no prior: the sliders span the range of the dataset's codes, and Random draws from their mean and spread.",
            )
            .weak(),
        );
    }
}

/// `648016` → `648,016`.
pub fn group_thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
