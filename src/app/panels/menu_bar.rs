//! The menu bar: File (open a checkpoint or dataset, recent files, check an image).

use crate::app::Command;
use crate::app::explorer::DialogPurpose;
use crate::app::loader::{OpenItem, file_label};
use crate::app::recent::RecentFiles;

/// Draws the menu bar. `busy` is true while something is being opened.
pub fn menu_bar_ui(
    ui: &mut egui::Ui,
    recent: &RecentFiles,
    busy: bool,
    has_encoder: bool,
    commands: &mut Vec<Command>,
) {
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| {
            let open = egui::Button::new("Open checkpoint…").shortcut_text("Ctrl+O");
            if ui
                .add_enabled(!busy, open)
                .on_hover_text(".safetensors, or a PyTorch .pt/.pth/.bin state dict")
                .clicked()
            {
                commands.push(Command::Browse(DialogPurpose::OpenCheckpoint));
            }
            if ui.add_enabled(!busy, egui::Button::new("Open dataset file…"))
                .on_hover_text("an IDX images file, raw or .gz; its labels file is found beside it")
                .clicked()
            {
                commands.push(Command::Browse(DialogPurpose::OpenDatasetFile));
            }
            if ui.add_enabled(!busy, egui::Button::new("Open dataset folder…"))
                .on_hover_text("a folder of PNG/JPEG images whose subfolders are the classes, or a folder with one IDX file")
                .clicked()
            {
                commands.push(Command::Browse(DialogPurpose::OpenDatasetFolder));
            }
            if ui.add_enabled(!busy, egui::Button::new("Generated sprites"))
                .on_hover_text("10,000 procedural 64×64 sprites with known factors")
                .clicked()
            {
                commands.push(Command::Open(OpenItem::Dataset(crate::bundled::SPRITES.into())));
            }
            ui.separator();
            ui.menu_button("Recent", |ui| recent_ui(ui, recent, busy, commands));
            if ui.add_enabled(!busy, egui::Button::new("Bundled model"))
                .on_hover_text("the Fashion-MNIST VAE, 16 dimensions")
                .clicked()
            {
                commands.push(Command::Open(OpenItem::BundledModel));
            }
            if ui.add_enabled(!busy, egui::Button::new("Bundled sprites VAE"))
                .on_hover_text("the convolutional VAE of the 64×64 sprites (β = 1), 10 dimensions; opens with the generated sprites")
                .clicked()
            {
                commands.push(Command::Open(OpenItem::BundledSpritesModel));
            }
            if ui.add_enabled(!busy, egui::Button::new("Bundled dataset")).clicked() {
                commands.push(Command::Open(OpenItem::BundledDataset));
            }
            ui.separator();
            if ui.add_enabled(has_encoder, egui::Button::new("Check image…")).clicked() {
                commands.push(Command::BrowseImage);
            }
        });
    });
}

fn recent_ui(ui: &mut egui::Ui, recent: &RecentFiles, busy: bool, commands: &mut Vec<Command>) {
    if recent.checkpoints.is_empty() && recent.datasets.is_empty() {
        ui.label(egui::RichText::new("nothing opened yet").weak());
        return;
    }
    for path in &recent.checkpoints {
        let button = egui::Button::new(format!("Model: {}", file_label(path)));
        if ui
            .add_enabled(!busy, button)
            .on_hover_text(path.display().to_string())
            .clicked()
        {
            commands.push(Command::Open(OpenItem::Checkpoint(path.clone())));
        }
    }
    if !recent.checkpoints.is_empty() && !recent.datasets.is_empty() {
        ui.separator();
    }
    for path in &recent.datasets {
        let button = egui::Button::new(format!("Dataset: {}", file_label(path)));
        if ui
            .add_enabled(!busy, button)
            .on_hover_text(path.display().to_string())
            .clicked()
        {
            commands.push(Command::Open(OpenItem::Dataset(path.clone())));
        }
    }
}
