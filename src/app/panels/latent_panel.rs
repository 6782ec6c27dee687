//! The latent panel: one slider per dimension, with a typed value beside each.

use std::ops::RangeInclusive;

use crate::app::Command;
use crate::app::explorer::ACTIVE_KL;
use crate::app::session::LatentPoint;

/// How the sliders are laid out, and the KL beside them.
pub struct SliderLayout<'a> {
    /// The dimensions to show, in order.
    pub dims: &'a [usize],
    /// Each dimension's range.
    pub ranges: &'a [RangeInclusive<f32>],
    /// Each dimension's mean KL over the dataset, for a VAE once its map is ready.
    pub kl: Option<&'a [f64]>,
    /// Sorted by KL.
    pub sort_by_kl: bool,
    /// Collapsed dimensions hidden.
    pub hide_inactive: bool,
    /// Where *Random* draws from.
    pub random_hint: &'a str,
}

/// Draws *Reset*, *Random*, the view toggles and the sliders of `layout.dims`, each with its
/// KL as a bar when known.
pub fn latent_panel_ui(
    ui: &mut egui::Ui,
    point: &LatentPoint,
    layout: &SliderLayout<'_>,
    commands: &mut Vec<Command>,
) {
    let random_hint = layout.random_hint;
    ui.heading("Latent z");
    ui.horizontal(|ui| {
        if ui
            .button("Reset")
            .on_hover_text("Set every dimension to 0")
            .clicked()
        {
            commands.push(Command::ResetAll);
        }
        if ui.button("Random").on_hover_text(random_hint).clicked() {
            commands.push(Command::Randomize);
        }
    });
    let origin = match point.sample {
        Some(idx) => format!("µ of dataset sample #{idx}"),
        None => "set by hand".to_owned(),
    };
    ui.label(egui::RichText::new(origin).weak());
    if let Some(kl) = layout.kl {
        let (mut sort, mut hide) = (layout.sort_by_kl, layout.hide_inactive);
        ui.horizontal(|ui| {
            let a = ui.checkbox(&mut sort, "sort by KL").changed();
            let b = ui
                .checkbox(&mut hide, format!("hide < {ACTIVE_KL} nats"))
                .on_hover_text("dimensions the encoder does not use (collapsed to the prior)")
                .changed();
            if a || b {
                commands.push(Command::SetSliderView {
                    sort_by_kl: sort,
                    hide_inactive: hide,
                });
            }
        });
        let active = kl.iter().filter(|&&k| k >= ACTIVE_KL).count();
        ui.label(
            egui::RichText::new(format!(
                "{active} of {} dimensions in use; bars: mean KL per dimension",
                kl.len()
            ))
            .weak(),
        );
    }
    ui.separator();

    // The slider takes what the number box and the label leave of the panel's width.
    let bar_width = if layout.kl.is_some() { 40.0 } else { 0.0 };
    ui.spacing_mut().slider_width = (ui.available_width() - 110.0 - bar_width).max(80.0);
    let largest_kl = layout
        .kl
        .map_or(1.0, |kl| kl.iter().copied().fold(1e-9, f64::max));
    egui::ScrollArea::vertical().show(ui, |ui| {
        for &dim in layout.dims {
            let Some(&current) = point.z.get(dim) else {
                continue;
            };
            let mut value = current;
            let range = layout.ranges.get(dim).cloned().unwrap_or(-4.0..=4.0);
            let mut response = None;
            ui.horizontal(|ui| {
                if let Some(kl) = layout.kl.and_then(|kl| kl.get(dim)) {
                    kl_bar_ui(ui, *kl, largest_kl, bar_width);
                }
                response = Some(
                    ui.add(
                        egui::Slider::new(&mut value, range)
                            .text(format!("z{dim}"))
                            .clamping(egui::SliderClamping::Never)
                            .fixed_decimals(2)
                            .drag_value_speed(0.01),
                    )
                    .on_hover_text(
                        "Drag, or click the number to type a value; double-click resets",
                    ),
                );
            });
            let Some(response) = response else {
                continue;
            };
            // The slider senses drags only, so its double clicks are read from the pointer;
            // they count on the rail, not on the number box beside it.
            let rail = egui::Rect::from_min_size(
                response.rect.min,
                egui::vec2(ui.spacing().slider_width, response.rect.height()),
            );
            let double_clicked = ui.input(|i| {
                i.pointer
                    .button_double_clicked(egui::PointerButton::Primary)
                    && i.pointer.interact_pos().is_some_and(|p| rail.contains(p))
            });
            if double_clicked {
                commands.push(Command::ResetDimension(dim));
            } else if response.changed() && value != current {
                commands.push(Command::SetLatent { dim, value });
            }
        }
    });
}

/// A horizontal bar of `width` filled in proportion to `kl / largest`, with the value on hover.
fn kl_bar_ui(ui: &mut egui::Ui, kl: f64, largest: f64, width: f32) {
    let (rect, response) = ui.allocate_exact_size(egui::vec2(width, 10.0), egui::Sense::hover());
    let visuals = ui.visuals();
    ui.painter()
        .rect_filled(rect, 2.0, visuals.extreme_bg_color);
    let share = (kl / largest).clamp(0.0, 1.0) as f32;
    let filled =
        egui::Rect::from_min_size(rect.min, egui::vec2(rect.width() * share, rect.height()));
    let color = if kl >= ACTIVE_KL {
        visuals.selection.bg_fill
    } else {
        visuals.weak_text_color()
    };
    ui.painter().rect_filled(filled, 2.0, color);
    response.on_hover_text(format!("mean KL {kl:.3} nats"));
}
