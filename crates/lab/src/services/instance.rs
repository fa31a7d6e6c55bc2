//! What `cargo lab services up` started, so that `down` stops exactly that.
//!
//! Each service it starts gets `<services dir>/<service>/instance.toml`: how it
//! runs, its address, its process id and what that process's command line
//! looked like. `down` stops only processes whose id *and* command line still
//! match, so a pid reused by the system after a reboot is never killed.

use std::path::{Path, PathBuf};

use anyhow::Context;
use labkit_locate::Service;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum How {
    /// A process from a binary on this machine.
    Local,
    /// A service of `docker/compose.yml`.
    Compose,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    pub service: String,
    pub how: How,
    /// The URL (or broker list) written to the endpoints file.
    pub url: String,
    /// The server's process, for a local instance.
    #[serde(default)]
    pub pid: Option<u32>,
    /// A word its command line must contain for `down` to stop it.
    #[serde(default)]
    pub command_contains: Option<String>,
    /// Where its data lives (removed by `down`).
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// The user it runs as, when not the caller (Postgres or MariaDB under root).
    #[serde(default)]
    pub run_as: Option<String>,
    /// The directory of the server binaries used (Postgres's `pg_ctl`).
    #[serde(default)]
    pub bin_dir: Option<PathBuf>,
    pub log: PathBuf,
    /// Seconds since the UNIX epoch.
    pub started_at: u64,
}

impl Instance {
    pub fn dir(services_dir: &Path, service: Service) -> PathBuf {
        services_dir.join(service.key())
    }

    fn path(services_dir: &Path, service: Service) -> PathBuf {
        Instance::dir(services_dir, service).join("instance.toml")
    }

    pub fn load(services_dir: &Path, service: Service) -> anyhow::Result<Option<Instance>> {
        let path = Instance::path(services_dir, service);
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text)
                .map(Some)
                .with_context(|| format!("parsing {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn save(&self, services_dir: &Path, service: Service) -> anyhow::Result<()> {
        let path = Instance::path(services_dir, service);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, toml::to_string(self)?)
            .with_context(|| format!("writing {}", path.display()))
    }

    /// Is the recorded process still the one `up` started?
    pub fn running(&self) -> bool {
        match (self.pid, &self.command_contains) {
            (Some(pid), Some(word)) => process_matches(pid, word),
            (Some(pid), None) => process_alive(pid),
            _ => false,
        }
    }
}

/// Alive and not a zombie (Linux `/proc`; elsewhere `kill -0`).
pub fn process_alive(pid: u32) -> bool {
    let stat = Path::new("/proc").join(pid.to_string()).join("stat");
    if Path::new("/proc/self").exists() {
        return std::fs::read_to_string(stat).is_ok_and(|s| {
            // "pid (comm) S …": the state is the first field after the last ')'.
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state != "Z" && state != "X")
        });
    }
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `pid` is alive and its command line contains `word`. Without `/proc`, alive is
/// all that can be checked.
pub fn process_matches(pid: u32, word: &str) -> bool {
    if !process_alive(pid) {
        return false;
    }
    let cmdline = Path::new("/proc").join(pid.to_string()).join("cmdline");
    match std::fs::read(cmdline) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).contains(word),
        Err(_) => !Path::new("/proc/self").exists(),
    }
}
