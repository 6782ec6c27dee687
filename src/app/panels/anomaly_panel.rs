//! The anomaly tool: score the dataset, a histogram with a percentile threshold, the samples
//! above it with their reconstructions and error maps, and the check of one image.

use std::path::PathBuf;

use egui_plot::{Bar, BarChart, Plot, VLine};

use crate::app::Command;
use crate::app::anomaly::error_heat_map;
use crate::app::command::ColorBy;
use crate::app::explorer::{AnomalyView, Drafts};
use crate::app::session::Session;
use crate::app::textures::CachedTexture;
use crate::data::ImageShape;
use crate::latent::Score;

/// How many samples the gallery shows.
const GALLERY_SIZE: usize = 12;

/// Textures of the gallery and of the checked image.
#[derive(Default)]
pub struct AnomalyTextures {
    gallery: Vec<[CachedTexture; 3]>,
    checked: [CachedTexture; 3],
}

/// Draws the tool.
pub fn anomaly_panel_ui(
    ui: &mut egui::Ui,
    view: &AnomalyView,
    color_by: ColorBy,
    textures: &mut AnomalyTextures,
    drafts: &mut Drafts,
    session: &Session,
    commands: &mut Vec<Command>,
) {
    let Some(scores) = &view.scores else {
        ui.horizontal(|ui| {
            let busy = view.job.is_some();
            if ui
                .add_enabled(!busy, egui::Button::new("Score the dataset"))
                .clicked()
            {
                commands.push(Command::ScoreDataset);
            }
            if busy {
                ui.spinner();
            }
            ui.label(
                egui::RichText::new(
                    "reconstruction error, negative ELBO, latent Mahalanobis distance and \
                     negative ELBO minus input complexity, for every sample",
                )
                .weak(),
            );
        });
        return;
    };

    let score = view.score();
    let threshold = scores.threshold(score, view.percentile);
    let above = view.above_threshold();
    ui.horizontal(|ui| {
        egui::ComboBox::from_label("score")
            .selected_text(score.label())
            .show_ui(ui, |ui| {
                for s in Score::ALL {
                    if ui.selectable_label(s == score, s.label()).clicked() {
                        commands.push(Command::ChooseScore(s));
                    }
                }
            });
        let mut colored = color_by == ColorBy::Score(score);
        if ui.checkbox(&mut colored, "colour the map by it").changed() {
            let color = if colored {
                ColorBy::Score(score)
            } else {
                ColorBy::Class
            };
            commands.push(Command::ColorMapBy(color));
        }
        let mut percentile = view.percentile;
        let slider = egui::Slider::new(&mut percentile, 50.0..=100.0)
            .text("threshold percentile")
            .fixed_decimals(1);
        if ui.add(slider).changed() {
            commands.push(Command::SetPercentile(percentile));
        }
        ui.label(format!("= {threshold:.2}: {} samples above", above.len()));
        if ui.button("Check image…").clicked() {
            commands.push(Command::BrowseImage);
        }
    });

    ui.horizontal_top(|ui| {
        histogram_ui(ui, scores.of(score), threshold);
        ui.vertical(|ui| {
            gallery_ui(ui, &above, textures, session, commands);
            ui.horizontal(|ui| {
                let label = ui.label("Export to");
                ui.add(egui::TextEdit::singleline(&mut drafts.anomaly_path).desired_width(200.0))
                    .labelled_by(label.id);
                if ui
                    .add_enabled(!above.is_empty(), egui::Button::new("CSV of these samples"))
                    .clicked()
                {
                    let path = PathBuf::from(drafts.anomaly_path.trim());
                    commands.push(Command::ExportAnomalies(path));
                }
            });
        });
        if let Some(checked) = &view.checked {
            ui.separator();
            ui.vertical(|ui| {
                ui.strong(format!("Checked: {}", checked.name));
                if let Some(note) = &checked.conversion {
                    ui.label(egui::RichText::new(format!("converted: {note}")).weak());
                }
                let shape = session.model.spec().image_shape();
                let heat = error_heat_map(&checked.pixels, &checked.reconstruction, shape);
                let images = [
                    checked.pixels.as_slice(),
                    checked.reconstruction.as_slice(),
                    heat.as_slice(),
                ];
                triple_ui(
                    ui,
                    &mut textures.checked,
                    images,
                    shape,
                    checked.version,
                    56.0,
                );
                let k = score.index();
                ui.label(format!(
                    "{}: {:.2}, above {:.1} % of the dataset",
                    score.label(),
                    checked.scores[k],
                    checked.percentiles[k] * 100.0
                ));
            });
        }
    });
}

fn histogram_ui(ui: &mut egui::Ui, values: &[f64], threshold: f64) {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let (low, high) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let bins = 60;
    let width = ((high - low) / bins as f64).max(f64::MIN_POSITIVE);
    let mut counts = vec![0usize; bins];
    for v in &finite {
        counts[(((v - low) / width) as usize).min(bins - 1)] += 1;
    }
    let bars: Vec<Bar> = counts
        .iter()
        .enumerate()
        .map(|(k, &c)| {
            let centre = low + (k as f64 + 0.5) * width;
            let color = if centre > threshold {
                egui::Color32::from_rgb(255, 60, 60)
            } else {
                egui::Color32::from_rgb(110, 140, 190)
            };
            Bar::new(centre, c as f64).width(width).fill(color)
        })
        .collect();
    Plot::new("score_histogram")
        .width(360.0)
        .height(120.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .show(ui, |plot_ui| {
            plot_ui.bar_chart(BarChart::new("samples", bars));
            plot_ui.vline(VLine::new("threshold", threshold).color(egui::Color32::WHITE));
        });
}

fn gallery_ui(
    ui: &mut egui::Ui,
    above: &[usize],
    textures: &mut AnomalyTextures,
    session: &Session,
    commands: &mut Vec<Command>,
) {
    if above.is_empty() {
        ui.label(egui::RichText::new("no sample above the threshold").weak());
        return;
    }
    ui.label(format!(
        "Top anomalies (input · reconstruction · error), {} shown",
        above.len().min(GALLERY_SIZE)
    ));
    let shape = session.model.spec().image_shape();
    textures.gallery.resize_with(GALLERY_SIZE, Default::default);
    egui::ScrollArea::horizontal().show(ui, |ui| {
        ui.horizontal(|ui| {
            for (slot, &idx) in above.iter().take(GALLERY_SIZE).enumerate() {
                let Some(input) = session.dataset.image(idx) else {
                    continue;
                };
                let reconstruction = session.decoder_reconstruction(idx);
                let heat = error_heat_map(input, &reconstruction, shape);
                let response = ui
                    .vertical(|ui| {
                        let images = [input, reconstruction.as_slice(), heat.as_slice()];
                        triple_ui(
                            ui,
                            &mut textures.gallery[slot],
                            images,
                            shape,
                            idx as u64,
                            28.0,
                        );
                        ui.small(format!("#{idx}"));
                    })
                    .response
                    .interact(egui::Sense::click());
                if response
                    .on_hover_text("click to set the sliders to its µ")
                    .clicked()
                {
                    commands.push(Command::PickSample(idx));
                }
            }
        });
    });
}

fn triple_ui(
    ui: &mut egui::Ui,
    textures: &mut [CachedTexture; 3],
    images: [&[f32]; 3],
    shape: ImageShape,
    version: u64,
    side: f32,
) {
    let ctx = ui.ctx().clone();
    let heat_shape = ImageShape {
        channels: 3,
        ..shape
    };
    ui.horizontal(|ui| {
        for (k, (texture, image)) in textures.iter_mut().zip(images).enumerate() {
            let image_shape = if k == 2 { heat_shape } else { shape };
            let handle = texture.get(&ctx, "anomaly", image, image_shape, version);
            let sized = egui::load::SizedTexture::new(handle.id(), egui::vec2(side, side));
            ui.add(egui::Image::from_texture(sized));
        }
    });
}
