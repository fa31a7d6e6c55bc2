//! The file where `cargo lab services up` says what it started.
//!
//! One `VAR=value` line per running service, with the variable a user would have
//! exported (`LAB_POSTGRES_URL=…`), so the same file is both what labkit reads
//! and something a shell can `source` to point psql or redis-cli at the lab's
//! servers. It lives in the user's cache, not in the checkout: services belong
//! to the machine, and every clone of the lab on it should find them.

use std::path::{Path, PathBuf};

use crate::Service;

/// What `cargo lab services up` started, as read from (or written to) its file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabServices {
    file: PathBuf,
    urls: Vec<(Service, String)>,
}

impl LabServices {
    /// The file's name inside [`LabServices::dir`].
    pub const FILE_NAME: &str = "endpoints.env";

    /// `LAB_SERVICES_DIR`, else `$XDG_CACHE_HOME/backend-lab/services`, else
    /// `~/.cache/backend-lab/services`, else a directory under the system's temp.
    pub fn dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("LAB_SERVICES_DIR").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        std::env::var_os("XDG_CACHE_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir)
            .join("backend-lab")
            .join("services")
    }

    /// Read `dir`'s file. A missing or unreadable file means "nothing started";
    /// lines that are not `VAR=value` for a known variable are ignored.
    pub fn load(dir: &Path) -> LabServices {
        let file = dir.join(Self::FILE_NAME);
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let mut services = LabServices {
            file,
            urls: Vec::new(),
        };
        for line in text.lines() {
            let Some((var, value)) = line.trim().split_once('=') else {
                continue;
            };
            let value = value.trim();
            if let Some(service) = Service::ALL.into_iter().find(|s| s.env_vars()[0] == var)
                && !value.is_empty()
            {
                services.set(service, value.to_string());
            }
        }
        services
    }

    /// An empty set of services that will be written to `dir`.
    pub fn empty_in(dir: &Path) -> LabServices {
        LabServices {
            file: dir.join(Self::FILE_NAME),
            urls: Vec::new(),
        }
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    pub fn url(&self, service: Service) -> Option<&str> {
        self.urls
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, u)| u.as_str())
    }

    pub fn services(&self) -> impl Iterator<Item = (Service, &str)> {
        self.urls.iter().map(|(s, u)| (*s, u.as_str()))
    }

    pub fn set(&mut self, service: Service, url: String) {
        self.urls.retain(|(s, _)| *s != service);
        self.urls.push((service, url));
        self.urls.sort();
    }

    pub fn remove(&mut self, service: Service) {
        self.urls.retain(|(s, _)| *s != service);
    }

    /// Write the file (temp file, then rename, so a reader never sees half of
    /// it); with no service left, remove it.
    pub fn save(&self) -> std::io::Result<()> {
        if self.urls.is_empty() {
            return match std::fs::remove_file(&self.file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
        }
        if let Some(dir) = self.file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut text = String::from(
            "# Written by `cargo lab services up`: the services it started, which the\n\
             # tests use when no LAB_* variable is set. `cargo lab services down` removes\n\
             # them. A shell can `source` this file to reach the same servers.\n",
        );
        for (service, url) in &self.urls {
            text.push_str(&format!("{}={url}\n", service.env_vars()[0]));
        }
        let tmp = self.file.with_extension("env.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &self.file)
    }
}
