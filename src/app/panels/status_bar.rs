//! The status bar: what is open, how fast it decodes, and any background work.

use crate::app::Command;
use crate::app::jobs::Progress;
use crate::app::session::{LatentPoint, Session};

/// Draws one line of facts and, while the map is being built or a file opened, its progress
/// and a cancel button.
pub fn status_bar_ui(
    ui: &mut egui::Ui,
    session: &Session,
    point: &LatentPoint,
    progress: Option<&Progress>,
    loading: Option<&Progress>,
    commands: &mut Vec<Command>,
) {
    ui.horizontal(|ui| {
        ui.label(format!("Model: {}", session.model_name));
        ui.separator();
        ui.label(format!("{}-D latent", session.latent_dim()));
        ui.separator();
        ui.label(format!(
            "Dataset: {} ({} samples)",
            session.dataset.name,
            session.dataset.len()
        ));
        ui.separator();
        ui.label(format!("decode {:.3} ms", point.decode_micros / 1000.0));

        if let Some(progress) = progress {
            ui.separator();
            ui.add(
                egui::ProgressBar::new(progress.fraction())
                    .desired_width(220.0)
                    .text(format!(
                        "{} {}/{}",
                        progress.stage, progress.done, progress.total
                    )),
            );
            if ui.small_button("Cancel").clicked() {
                commands.push(Command::CancelMapJob);
            }
        }
        if let Some(loading) = loading {
            ui.separator();
            ui.spinner();
            let counts = if loading.total > 1 {
                format!(" {}/{}", loading.done, loading.total)
            } else {
                String::new()
            };
            ui.label(format!("{}{counts}", loading.stage));
            if ui.small_button("Cancel opening").clicked() {
                commands.push(Command::CancelOpen);
            }
        }
    });
}
