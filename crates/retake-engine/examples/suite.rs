//! The synthetic suite's tables, as `retake eval --suite` prints them (defaults: 256x144, 24
//! frames, flex_1, quality profile), without building the CLI.
//!
//! `cargo run --release -p retake-engine --example suite [-- --json]`

use retake_engine::eval::{run_suite, SuiteConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let report = run_suite(&SuiteConfig::default(), &mut |_, _| {})?;
    if std::env::args().any(|a| a == "--json") {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.markdown());
    }
    Ok(())
}
