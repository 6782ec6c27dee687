//! The disentanglement metrics against the sprites' known factors.

use crate::app::Command;
use crate::app::explorer::MetricsView;

/// Training points of a quick run (a fifth of disentanglement_lib's).
const QUICK_POINTS: usize = 2_000;
/// disentanglement_lib's training points.
const FULL_POINTS: usize = 10_000;

/// Draws the run buttons, or why the metrics do not apply, and the last report.
pub fn metrics_panel_ui(
    ui: &mut egui::Ui,
    view: &MetricsView,
    unavailable: Option<&str>,
    commands: &mut Vec<Command>,
) {
    if let Some(reason) = unavailable {
        ui.label(format!("No metrics: {reason}."));
        ui.label(
            egui::RichText::new(
                "Train a model on the sprites (latent-explorer train --data sprites --arch conv) and open it.",
            )
            .weak(),
        );
        return;
    }
    ui.horizontal(|ui| {
        let busy = view.job.is_some();
        if ui
            .add_enabled(!busy, egui::Button::new("Compute (quick)"))
            .on_hover_text("2,000 training and 1,000 evaluation points per metric")
            .clicked()
        {
            commands.push(Command::ComputeMetrics {
                train_points: QUICK_POINTS,
            });
        }
        if ui
            .add_enabled(!busy, egui::Button::new("Compute (disentanglement_lib defaults)"))
            .on_hover_text("10,000 training and 5,000 evaluation points per metric")
            .clicked()
        {
            commands.push(Command::ComputeMetrics {
                train_points: FULL_POINTS,
            });
        }
        if busy {
            ui.spinner();
            if ui.button("Cancel").clicked() {
                commands.push(Command::CancelMetrics);
            }
        }
        ui.label(
            egui::RichText::new(
                "every one of the 737,280 sprites is encoded once, then the metrics sample from them",
            )
            .weak(),
        );
    });
    let Some(report) = &view.report else {
        return;
    };
    let points = view.settings.as_ref().map_or(0, |s| s.train_points);
    ui.label(format!(
        "{points} training points · computed in {:.1} s",
        view.elapsed_secs
    ));
    egui::Grid::new("metrics").striped(true).num_columns(3).show(ui, |ui| {
        let mut row = |name: &str, value: f64, meaning: &str| {
            ui.label(name);
            ui.strong(format!("{value:.3}"));
            ui.label(egui::RichText::new(meaning).weak());
            ui.end_row();
        };
        row("MIG", report.mig, "gap in mutual information between a factor's two best dimensions, over its entropy");
        row("FactorVAE score", report.factor_vae, "accuracy of naming the fixed factor from the least-varying dimension (chance 0.2)");
        row("β-VAE score", report.beta_vae, "accuracy of a linear classifier naming the fixed factor (chance 0.2)");
        row("DCI disentanglement", report.dci_disentanglement, "how much each dimension serves one factor (boosted trees' importances)");
        row("DCI completeness", report.dci_completeness, "how much each factor lives in one dimension");
        row("DCI informativeness", report.dci_informativeness, "held-out R² of predicting the factors");
    });
}
