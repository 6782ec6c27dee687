//! The map: every dataset sample's µ projected to 2-D, coloured by class, with the current z
//! drawn on top. Hover shows a sample; a click picks it.

use std::sync::Arc;

use egui::{Color32, Pos2};
use egui_plot::{Corner, Legend, Line, MarkerShape, Plot, PlotPoint, PlotTransform, Points, Text};

use crate::app::Command;
use crate::app::command::EndSource;
use crate::app::interpolation::End;
use crate::app::map_job::LatentMap;
use crate::app::projection::MapLayout;
use crate::app::session::{LatentPoint, Session};
use crate::app::textures::CachedTexture;

/// Ten colours that stay apart on a dark background, one per class (they repeat past ten).
const CLASS_COLORS: [Color32; 10] = [
    Color32::from_rgb(31, 119, 180),
    Color32::from_rgb(255, 127, 14),
    Color32::from_rgb(44, 160, 44),
    Color32::from_rgb(214, 39, 40),
    Color32::from_rgb(148, 103, 189),
    Color32::from_rgb(140, 86, 75),
    Color32::from_rgb(227, 119, 194),
    Color32::from_rgb(127, 127, 127),
    Color32::from_rgb(188, 189, 34),
    Color32::from_rgb(23, 190, 207),
];

/// How close (in screen points) the pointer must be to a sample to hover or pick it.
const PICK_RADIUS: f32 = 8.0;

/// The colour of class `label`.
pub fn class_color(label: u32) -> Color32 {
    CLASS_COLORS[label as usize % CLASS_COLORS.len()]
}

/// What the map draws on top of the dataset, already placed on the layout.
pub struct MapOverlay<'a> {
    /// Colour the samples by these values instead of by class.
    pub color_by: Option<ColorValues>,
    /// Samples to ring (those above the anomaly threshold).
    pub highlighted: &'a [usize],
    /// Where a checked image's µ lands.
    pub checked: Option<[f64; 2]>,
    /// Where the current z lands.
    pub current: Option<[f64; 2]>,
    /// The interpolation's frames.
    pub path: &'a [[f64; 2]],
    /// The interpolation's ends, by name.
    pub ends: Vec<(&'static str, [f64; 2])>,
}

/// Values that colour the map on a continuous colour map.
#[derive(Debug, Clone)]
pub struct ColorValues {
    /// What they are, for the colour bar.
    pub label: String,
    /// One value per sample.
    pub values: Vec<f64>,
    /// The colour map's ends; the 1st and 99th percentiles when `None`.
    pub range: Option<(f64, f64)>,
}

/// Number of colour steps for a continuous score.
const SCORE_BINS: usize = 24;

/// A perceptually ordered map from 0 to 1: dark blue through green to yellow (after viridis).
pub fn score_color(t: f32) -> Color32 {
    const STOPS: [(f32, [u8; 3]); 5] = [
        (0.0, [68, 1, 84]),
        (0.25, [59, 82, 139]),
        (0.5, [33, 145, 140]),
        (0.75, [94, 201, 98]),
        (1.0, [253, 231, 37]),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        1.0
    };
    let upper = STOPS
        .iter()
        .position(|(s, _)| *s >= t)
        .unwrap_or(STOPS.len() - 1)
        .max(1);
    let ((t0, c0), (t1, c1)) = (STOPS[upper - 1], STOPS[upper]);
    let f = (t - t0) / (t1 - t0);
    let mix = |a: u8, b: u8| (f32::from(a) + f * (f32::from(b) - f32::from(a))).round() as u8;
    Color32::from_rgb(mix(c0[0], c1[0]), mix(c0[1], c1[1]), mix(c0[2], c1[2]))
}

/// The 1st and 99th percentiles of the finite values, the colour map's ends.
fn color_range(values: &[f64]) -> (f64, f64) {
    let mut finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return (0.0, 1.0);
    }
    finite.sort_by(f64::total_cmp);
    let at = |q: f64| finite[((finite.len() - 1) as f64 * q).round() as usize];
    let (low, high) = (at(0.01), at(0.99));
    if high > low {
        (low, high)
    } else {
        (low, low + 1.0)
    }
}

/// Where the map's background work stands.
pub enum MapState {
    /// Encoding and projecting; the progress is in the status bar.
    Building,
    /// Done.
    Ready(Arc<LatentMap>),
    /// Failed with this message.
    Failed(String),
    /// The user stopped it.
    Cancelled,
}

/// The points of one class, ready for egui_plot.
struct ClassSeries {
    name: String,
    color: Color32,
    points: Vec<PlotPoint>,
}

/// Drawing caches of the map; rebuilt when a new layout arrives.
#[derive(Default)]
pub struct MapView {
    series: Vec<ClassSeries>,
    series_of: Option<Arc<Vec<Option<[f64; 2]>>>>,
    hovered: Option<usize>,
    hover_texture: CachedTexture,
    last_transform: Option<PlotTransform>,
    /// The sample a context menu was opened on.
    menu_sample: Option<usize>,
}

impl MapView {
    /// Where sample `idx` was drawn in the last frame, in screen points.
    pub fn screen_position(&self, layout: &MapLayout, idx: usize) -> Option<Pos2> {
        let [x, y] = layout.coords.get(idx).copied().flatten()?;
        let transform = self.last_transform.as_ref()?;
        Some(transform.position_from_point(&PlotPoint::new(x, y)))
    }

    /// The sample under the pointer in the last frame.
    pub fn hovered(&self) -> Option<usize> {
        self.hovered
    }

    fn rebuild_series(&mut self, layout: &MapLayout, session: &Session) {
        if self
            .series_of
            .as_ref()
            .is_some_and(|built| Arc::ptr_eq(built, &layout.coords))
        {
            return;
        }
        let dataset = &session.dataset;
        let mut series: Vec<ClassSeries> = (0..dataset.class_count().max(1))
            .map(|label| ClassSeries {
                name: dataset.class_name(label as u32),
                color: class_color(label as u32),
                points: Vec::new(),
            })
            .collect();
        for (coords, &label) in layout.coords.iter().zip(&dataset.labels) {
            if let (Some([x, y]), Some(class)) = (coords, series.get_mut(label as usize)) {
                class.points.push(PlotPoint::new(*x, *y));
            }
        }
        self.series = series;
        self.series_of = Some(layout.coords.clone());
    }

    /// Draws the map region: `layout` once the map is ready, else what the work is doing.
    #[allow(clippy::too_many_arguments)] // Each is a distinct piece of state the map reads.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        state: &MapState,
        layout: Option<&MapLayout>,
        session: &Session,
        point: &LatentPoint,
        overlay: &MapOverlay<'_>,
        commands: &mut Vec<Command>,
    ) {
        let layout = match (state, layout) {
            (MapState::Ready(_), Some(layout)) => layout,
            (MapState::Ready(_), None) => {
                ui.centered_and_justified(|ui| {
                    ui.label("Forming the layout… the sliders work meanwhile.");
                });
                return;
            }
            (MapState::Building, _) => {
                ui.centered_and_justified(|ui| {
                    ui.label("Encoding the dataset and fitting PCA… the sliders work meanwhile.");
                });
                return;
            }
            (MapState::Failed(message), _) => {
                ui.colored_label(ui.visuals().error_fg_color, format!("No map: {message}"));
                if ui.button("Try again").clicked() {
                    commands.push(Command::RebuildMap);
                }
                return;
            }
            (MapState::Cancelled, _) => {
                ui.label("Building the map was cancelled.");
                if ui.button("Build the map").clicked() {
                    commands.push(Command::RebuildMap);
                }
                return;
            }
        };
        self.rebuild_series(layout, session);
        let by_score = overlay.color_by.as_ref().map(|color| {
            let (low, high, note) = match color.range {
                Some((low, high)) => (low, high, ""),
                None => {
                    let (low, high) = color_range(&color.values);
                    (low, high, " (1st to 99th percentile)")
                }
            };
            color_bar_ui(ui, &color.label, low, high, note);
            score_series(&layout.coords, &color.values, low, high)
        });
        let rings: Vec<[f64; 2]> = overlay
            .highlighted
            .iter()
            .filter_map(|&i| layout.coords.get(i).copied().flatten())
            .collect();
        let checked = overlay.checked;
        let current = overlay.current.unwrap_or([f64::NAN; 2]);
        let path: Vec<[f64; 2]> = overlay.path.to_vec();
        let ends = overlay.ends.clone();
        let selected = point
            .sample
            .and_then(|idx| layout.coords.get(idx).copied().flatten());
        let series = &self.series;
        let coords = &layout.coords;
        let [x_label, y_label] = &layout.axes;

        let response = Plot::new("latent_map")
            .data_aspect(1.0)
            .legend(
                Legend::default()
                    .position(Corner::RightTop)
                    .follow_insertion_order(true),
            )
            .x_axis_label(x_label.as_str())
            .y_axis_label(y_label.as_str())
            .show(ui, |plot_ui| {
                match &by_score {
                    None => {
                        for class in series {
                            plot_ui.points(
                                Points::new(class.name.clone(), &class.points[..])
                                    .color(class.color)
                                    .radius(1.5)
                                    .filled(true)
                                    .allow_hover(false),
                            );
                        }
                    }
                    Some(bins) => {
                        // One series per colour step; they share a name so the legend shows one.
                        for (k, bin) in bins.iter().enumerate() {
                            let t = (k as f32 + 0.5) / SCORE_BINS as f32;
                            plot_ui.points(
                                Points::new("coloured by value", bin.clone())
                                    .color(score_color(t))
                                    .radius(1.5)
                                    .filled(true)
                                    .allow_hover(false),
                            );
                        }
                    }
                }
                if !rings.is_empty() {
                    plot_ui.points(
                        Points::new("above threshold", rings)
                            .shape(MarkerShape::Circle)
                            .filled(false)
                            .radius(4.0)
                            .color(Color32::from_rgb(255, 60, 60))
                            .allow_hover(false),
                    );
                }
                if let Some([x, y]) = checked.filter(|c| c.iter().all(|v| v.is_finite())) {
                    plot_ui.points(
                        Points::new("checked image", vec![[x, y]])
                            .shape(MarkerShape::Square)
                            .filled(true)
                            .radius(7.0)
                            .color(Color32::from_rgb(255, 60, 60))
                            .allow_hover(false),
                    );
                }
                if let Some([x, y]) = selected {
                    plot_ui.points(
                        Points::new("picked sample", vec![[x, y]])
                            .shape(MarkerShape::Circle)
                            .filled(false)
                            .radius(11.0)
                            .color(Color32::from_rgb(255, 215, 0))
                            .allow_hover(false),
                    );
                }
                if path.len() >= 2 {
                    plot_ui.line(
                        Line::new("interpolation", path.clone())
                            .color(Color32::WHITE)
                            .width(1.5)
                            .allow_hover(false),
                    );
                    plot_ui.points(
                        Points::new("interpolation", path)
                            .radius(3.0)
                            .color(Color32::WHITE)
                            .allow_hover(false),
                    );
                }
                for (name, [x, y]) in ends {
                    plot_ui.text(
                        Text::new(
                            name,
                            PlotPoint::new(x, y),
                            egui::RichText::new(name).strong().size(16.0),
                        )
                        .color(Color32::WHITE)
                        .anchor(egui::Align2::LEFT_BOTTOM),
                    );
                }
                if current.iter().all(|v| v.is_finite()) {
                    // A white diamond on a black one stands out against every class colour.
                    for (radius, color) in [(10.0, Color32::BLACK), (6.5, Color32::WHITE)] {
                        plot_ui.points(
                            Points::new("current z", vec![current])
                                .shape(MarkerShape::Diamond)
                                .filled(true)
                                .radius(radius)
                                .color(color)
                                .allow_hover(false),
                        );
                    }
                }

                let pointer = plot_ui.response().hover_pos();
                let hovered = pointer.and_then(|p| nearest_sample(coords, plot_ui.transform(), p));
                (hovered, plot_ui.response().clicked())
            });

        let (hovered, clicked) = response.inner;
        self.last_transform = Some(response.transform);
        self.hovered = hovered;

        // Right-click on a sample opens a menu for it; the menu remembers which sample.
        if response.response.secondary_clicked() {
            self.menu_sample = hovered;
        }
        if let Some(idx) = self.menu_sample {
            response.response.context_menu(|ui| {
                ui.label(format!("sample #{idx}"));
                if ui.button("Set the sliders to its µ").clicked() {
                    commands.push(Command::PickSample(idx));
                    ui.close();
                }
                if ui.button("Set as A").clicked() {
                    commands.push(Command::SetEnd(End::A, EndSource::Sample(idx)));
                    ui.close();
                }
                if ui.button("Set as B").clicked() {
                    commands.push(Command::SetEnd(End::B, EndSource::Sample(idx)));
                    ui.close();
                }
            });
        }

        if let Some(idx) = hovered {
            if clicked {
                let modifiers = ui.input(|i| i.modifiers);
                commands.push(if modifiers.command {
                    Command::SetEnd(End::A, EndSource::Sample(idx))
                } else if modifiers.shift {
                    Command::SetEnd(End::B, EndSource::Sample(idx))
                } else {
                    Command::PickSample(idx)
                });
            }
            let texture = self.hover_texture.get(
                ui.ctx(),
                "hovered-sample",
                session.dataset.image(idx).unwrap_or_default(),
                session.dataset.image_shape(),
                idx as u64,
            );
            let label = session
                .dataset
                .labels
                .get(idx)
                .map(|&l| session.dataset.class_name(l))
                .unwrap_or_default();
            let texture = egui::load::SizedTexture::new(texture.id(), egui::vec2(84.0, 84.0));
            let _ = response.response.clone().on_hover_ui_at_pointer(|ui| {
                ui.add(egui::Image::from_texture(texture));
                ui.label(format!("#{idx} · {label}"));
                ui.label(
                    egui::RichText::new("click: sliders to its µ · ctrl-click: A · shift-click: B")
                        .weak(),
                );
            });
        }
    }
}

/// The samples' positions split into [`SCORE_BINS`] colour steps of their value.
fn score_series(
    coords: &[Option<[f64; 2]>],
    values: &[f64],
    low: f64,
    high: f64,
) -> Vec<Vec<[f64; 2]>> {
    let mut bins = vec![Vec::new(); SCORE_BINS];
    for (c, &v) in coords.iter().zip(values) {
        let Some(c) = c else { continue };
        let t = if v.is_finite() {
            ((v - low) / (high - low)).clamp(0.0, 1.0)
        } else {
            1.0
        };
        let k = ((t * SCORE_BINS as f64) as usize).min(SCORE_BINS - 1);
        bins[k].push(*c);
    }
    bins
}

/// A horizontal colour bar with the values at its ends.
fn color_bar_ui(ui: &mut egui::Ui, label: &str, low: f64, high: f64, note: &str) {
    ui.horizontal(|ui| {
        ui.label(format!("{label}: {low:.1}"));
        let (rect, _) = ui.allocate_exact_size(egui::vec2(200.0, 12.0), egui::Sense::hover());
        let steps = 50;
        for k in 0..steps {
            let x0 = rect.left() + rect.width() * k as f32 / steps as f32;
            let x1 = rect.left() + rect.width() * (k + 1) as f32 / steps as f32;
            let cell =
                egui::Rect::from_min_max(egui::pos2(x0, rect.top()), egui::pos2(x1, rect.bottom()));
            ui.painter()
                .rect_filled(cell, 0.0, score_color((k as f32 + 0.5) / steps as f32));
        }
        ui.label(format!("{high:.1}{note}"));
    });
}

/// The sample drawn nearest to `pointer`, if one lies within [`PICK_RADIUS`].
fn nearest_sample(
    coords: &[Option<[f64; 2]>],
    transform: &PlotTransform,
    pointer: Pos2,
) -> Option<usize> {
    let target = transform.value_from_position(pointer);
    let [scale_x, scale_y] = transform.dpos_dvalue();
    let mut best: Option<(usize, f64)> = None;
    for (idx, coords) in coords.iter().enumerate() {
        let Some([x, y]) = coords else { continue };
        let dx = (x - target.x) * scale_x;
        let dy = (y - target.y) * scale_y;
        let distance = dx * dx + dy * dy;
        if best.is_none_or(|(_, d)| distance < d) {
            best = Some((idx, distance));
        }
    }
    best.filter(|&(_, d)| d <= f64::from(PICK_RADIUS * PICK_RADIUS))
        .map(|(idx, _)| idx)
}
