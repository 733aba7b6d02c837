//! `retake models`: the diffusion models in a folder, and what each lacks.

use std::path::Path;

use retake_diffusion::list_models;

use crate::exit::CliError;

/// Lists the models under `dir`.
pub fn run(dir: Option<&Path>, json: bool) -> Result<(), CliError> {
    let Some(dir) = dir else {
        return Err(CliError::usage(anyhow::anyhow!(
            "say where the models are: --model-dir DIR or RETAKE_MODEL_DIR (a diffusers model \
             folder, or a folder of them)"
        )));
    };
    if !dir.is_dir() {
        return Err(CliError::input(anyhow::anyhow!(
            "{}: not a folder",
            dir.display()
        )));
    }
    let models = list_models(dir);
    if json {
        let v: Vec<serde_json::Value> = models
            .iter()
            .map(|m| {
                serde_json::json!({
                    "name": m.name,
                    "dir": m.dir,
                    "architecture": m.architecture.map(|a| a.name()),
                    "dtype": m.dtype.map(|d| d.to_string()),
                    "usable": m.is_usable(),
                    "missing": m.missing,
                    "problem": m.problem,
                    "tiny_vae": m.tiny_vae,
                })
            })
            .collect();
        let text = serde_json::to_string_pretty(&v).map_err(|e| CliError::internal(e.into()))?;
        println!("{text}");
        return Ok(());
    }
    if models.is_empty() {
        println!(
            "no diffusers models in {} (a model folder holds model_index.json)",
            dir.display()
        );
        return Ok(());
    }
    for m in &models {
        let arch = m.architecture.map(|a| a.name()).unwrap_or("unknown");
        let dtype = m.dtype.map(|d| d.to_string()).unwrap_or_else(|| "?".into());
        let state = if m.is_usable() {
            "ready".to_string()
        } else if !m.missing.is_empty() {
            format!("missing {}", m.missing.join(", "))
        } else {
            m.problem.clone().unwrap_or_default()
        };
        let vae = match &m.tiny_vae {
            Some(t) => format!("tiny VAE {t}/"),
            None => "full VAE".to_string(),
        };
        println!("{:<24} {arch:<10} {dtype:<6} {vae:<18} {state}", m.name);
    }
    Ok(())
}
