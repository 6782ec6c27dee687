//! The line above the map: PCA (with its axes and explained variance) or t-SNE (with its
//! parameters, progress and controls).

use crate::app::Command;
use crate::app::command::ColorBy;
use crate::app::map_job::{LatentMap, MapSource};
use crate::app::projection::{ProjectionChoice, TsneRun};
use crate::projection::TsneParams;

/// How many principal components the axis choosers offer at most.
const MAX_AXES: usize = 8;

/// Draws the projection chooser and the chosen projection's facts and controls. `draft` is
/// the t-SNE parameters being edited; finishing an edit restarts the run.
#[allow(clippy::too_many_arguments)] // Each is a distinct piece of state the bar shows.
pub fn projection_bar_ui(
    ui: &mut egui::Ui,
    choice: ProjectionChoice,
    draft: &mut TsneParams,
    tsne: Option<&TsneRun>,
    map: &LatentMap,
    color_by: ColorBy,
    color_choices: &[(ColorBy, String)],
    commands: &mut Vec<Command>,
) {
    if map.source == MapSource::PriorSamples {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            "This generator has no encoder, so the dataset cannot be mapped: the points are samples from its N(0, I) prior, each decoded for its thumbnail.",
        );
    }
    ui.horizontal_wrapped(|ui| {
        let is_tsne = choice == ProjectionChoice::Tsne;
        if ui.selectable_label(!is_tsne, "PCA").clicked() && is_tsne {
            commands.push(Command::ChooseProjection(ProjectionChoice::default()));
        }
        if ui
            .selectable_label(is_tsne, "t-SNE")
            .on_hover_text("non-linear: shows clusters; forms over a few seconds")
            .clicked()
            && !is_tsne
        {
            commands.push(Command::ChooseProjection(ProjectionChoice::Tsne));
        }
        ui.separator();
        match choice {
            ProjectionChoice::Pca { x, y } => pca_ui(ui, x, y, map, commands),
            ProjectionChoice::Tsne => tsne_controls_ui(ui, draft, tsne, commands),
        }
        if color_choices.len() > 1 {
            ui.separator();
            let current = color_choices
                .iter()
                .find(|(c, _)| *c == color_by)
                .map_or("class", |(_, name)| name.as_str());
            egui::ComboBox::from_label("colour")
                .selected_text(current)
                .show_ui(ui, |ui| {
                    for (choice, name) in color_choices {
                        if ui.selectable_label(*choice == color_by, name).clicked() {
                            commands.push(Command::ColorMapBy(*choice));
                        }
                    }
                });
        }
        if map.pca.skipped > 0 {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("{} left out (NaN or infinite latents)", map.pca.skipped),
            );
        }
    });
    if choice == ProjectionChoice::Tsne {
        tsne_status_ui(ui, tsne);
    }
}

fn pca_ui(ui: &mut egui::Ui, x: usize, y: usize, map: &LatentMap, commands: &mut Vec<Command>) {
    let ratio = map.pca.projection.explained_variance_ratio();
    let axes = ratio.len().min(MAX_AXES);
    let name = |k: usize| {
        format!(
            "PC{} ({:.1}%)",
            k + 1,
            ratio.get(k).map_or(0.0, |r| r * 100.0)
        )
    };
    for (label, current, other, horizontal) in [("x", x, y, true), ("y", y, x, false)] {
        egui::ComboBox::from_label(label)
            .selected_text(name(current))
            .show_ui(ui, |ui| {
                for k in (0..axes).filter(|&k| k != other) {
                    if ui.selectable_label(k == current, name(k)).clicked() {
                        let (x, y) = if horizontal { (k, other) } else { (other, k) };
                        commands.push(Command::ChooseProjection(ProjectionChoice::Pca { x, y }));
                    }
                }
            });
    }
    let shown: f64 = [x, y].iter().filter_map(|&k| ratio.get(k)).sum();
    let what = match map.source {
        MapSource::Dataset => "µ",
        MapSource::PriorSamples => "the prior samples",
    };
    ui.label(format!(
        "PCA of {what}: these axes hold {:.1}% of the variance · {} samples",
        shown * 100.0,
        map.len() - map.pca.skipped
    ));
}

fn tsne_controls_ui(
    ui: &mut egui::Ui,
    draft: &mut TsneParams,
    tsne: Option<&TsneRun>,
    commands: &mut Vec<Command>,
) {
    let mut edited = false;
    ui.menu_button("Parameters…", |ui| {
        ui.spacing_mut().slider_width = 160.0;
        let perplexity = egui::Slider::new(&mut draft.perplexity, 2.0..=100.0).text("perplexity");
        edited |= finished(&ui.add(perplexity));
        let iterations = egui::Slider::new(&mut draft.iterations, 50..=5000)
            .logarithmic(true)
            .text("iterations");
        edited |= finished(&ui.add(iterations));
        let mut auto = draft.learning_rate.is_none();
        if ui
            .checkbox(&mut auto, "auto learning rate")
            .on_hover_text("N/12 during early exaggeration, then N, as openTSNE")
            .changed()
        {
            draft.learning_rate = if auto { None } else { Some(200.0) };
            edited = true;
        }
        if let Some(rate) = &mut draft.learning_rate {
            let rate = egui::Slider::new(rate, 10.0..=100_000.0)
                .logarithmic(true)
                .text("learning rate");
            edited |= finished(&ui.add(rate));
        }
        let exaggeration =
            egui::Slider::new(&mut draft.early_exaggeration, 1.0..=50.0).text("early exaggeration");
        edited |= finished(&ui.add(exaggeration));
        ui.horizontal(|ui| {
            let label = ui.label("seed");
            let seed = ui
                .add(egui::DragValue::new(&mut draft.seed))
                .labelled_by(label.id);
            edited |= finished(&seed);
        });
        ui.label(egui::RichText::new("a change restarts t-SNE").weak());
    });
    if edited {
        commands.push(Command::RestartTsne);
    }

    ui.separator();
    let running = tsne.is_some_and(TsneRun::is_running);
    let paused = tsne.is_some_and(TsneRun::is_paused);
    let pause_label = if paused { "Resume" } else { "Pause" };
    if ui
        .add_enabled(running, egui::Button::new(pause_label))
        .clicked()
    {
        commands.push(Command::PauseTsne(!paused));
    }
    if ui
        .add_enabled(running, egui::Button::new("Cancel"))
        .clicked()
    {
        commands.push(Command::CancelTsne);
    }
    if ui.button("Restart").clicked() {
        commands.push(Command::RestartTsne);
    }
}

/// True when an edit of a value is finished: a drag has ended, or a typed or stepped value
/// changed; a restart then happens once, not on every step of a drag.
fn finished(response: &egui::Response) -> bool {
    response.drag_stopped() || (response.changed() && !response.dragged())
}

fn tsne_status_ui(ui: &mut egui::Ui, tsne: Option<&TsneRun>) {
    let Some(run) = tsne else {
        ui.label(egui::RichText::new("t-SNE starts when the map is ready").weak());
        return;
    };
    ui.horizontal_wrapped(|ui| {
        if let Some(error) = &run.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
            return;
        }
        if let Some(p) = &run.progress {
            ui.spinner();
            ui.label(format!("{} {}/{}", p.stage, p.done, p.total));
            return;
        }
        let Some(s) = &run.snapshot else {
            ui.spinner();
            ui.label("preparing");
            return;
        };
        let state = if !run.is_running() && s.iteration < s.total {
            " (stopped)"
        } else if run.is_paused() {
            " (paused)"
        } else {
            ""
        };
        let p = &run.params;
        let rate = p.learning_rate.map_or_else(|| "auto".to_owned(), |r| format!("{r}"));
        ui.label(format!(
            "perplexity {} · learning rate {rate} · exaggeration {} · seed {} ·",
            p.perplexity, p.early_exaggeration, p.seed
        ));
        ui.label(format!("iteration {}/{}{state}", s.iteration, s.total));
        if let Some((kl, at)) = s.kl {
            ui.label(format!("· KL divergence {kl:.4} (at iteration {at})"));
        }
        ui.label(format!("· {:.1} s", s.elapsed_secs));
        ui.label(
            egui::RichText::new(
                "· the current z and the path are placed approximately, from their nearest samples; clicking a point picks that sample exactly",
            )
            .weak(),
        );
    });
}
