//! This process's scratch folder for files on their way in or out of blob storage: downloads
//! being checked, uploads being received, a worker's job folder. Each process has its own
//! (`tmp/proc-<pid>`), so processes sharing a data folder never clear each other's files;
//! folders of processes that are gone are cleared at start.

use std::path::{Path, PathBuf};

/// A process's scratch folder.
#[derive(Clone, Debug)]
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    /// Makes `<root>/proc-<pid>` and clears what dead processes left under `root`.
    pub fn open(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root)?;
        if let Ok(entries) = std::fs::read_dir(root) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let gone = match name.strip_prefix("proc-").map(str::parse::<u32>) {
                    Some(Ok(pid)) => !process_alive(pid),
                    // Files from builds before per-process folders.
                    _ => true,
                };
                if gone {
                    let p = e.path();
                    let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
                }
            }
        }
        let dir = root.join(format!("proc-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A fresh file name in it.
    pub fn file(&self) -> PathBuf {
        self.dir.join(uuid::Uuid::new_v4().simple().to_string())
    }

    /// A fresh private folder in it, removed when dropped.
    pub fn folder(&self) -> std::io::Result<tempfile::TempDir> {
        tempfile::Builder::new()
            .prefix("job-")
            .tempdir_in(&self.dir)
    }
}

#[cfg(target_os = "linux")]
fn process_alive(pid: u32) -> bool {
    pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(not(target_os = "linux"))]
fn process_alive(pid: u32) -> bool {
    pid == std::process::id()
}
