//! `cargo lab services up | down | status`: the lab's own throwaway servers.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Subcommand;
use labkit_locate::{LabServices, Service, Sources};

use crate::services::instance::{How, Instance};
use crate::services::{self, Health, compose, local};
use crate::workspace::Workspace;

use super::spinner;

#[derive(Subcommand, Debug)]
pub enum ServicesCommand {
    /// Start Postgres, Redis, Kafka and MariaDB for the tests: with Docker
    /// through docker/compose.yml, else from binaries on this machine, on the
    /// lab's own ports. The tests then find them with nothing exported.
    Up {
        /// Only these services (comma-separated: postgres,redis,kafka,mysql).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Install tansu (the Kafka-compatible broker) first if it is missing.
        #[arg(long)]
        install_kafka: bool,
        /// Use local binaries even when Docker answers.
        #[arg(long, conflicts_with = "docker")]
        local: bool,
        /// Use docker compose; fail if Docker does not answer.
        #[arg(long)]
        docker: bool,
    },
    /// Stop what `services up` started, and nothing else.
    Down {
        /// Only these services (comma-separated).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
    /// Each service: where the tests will find it, how, and whether it answers.
    Status,
}

pub(super) fn services(
    workspace: &Workspace,
    command: ServicesCommand,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let dir = LabServices::dir();
    match command {
        ServicesCommand::Up {
            only,
            install_kafka,
            local,
            docker,
        } => up(
            workspace,
            &dir,
            &chosen(&only)?,
            install_kafka,
            local,
            docker,
            out,
        ),
        ServicesCommand::Down { only } => down(workspace, &dir, &chosen(&only)?, out),
        ServicesCommand::Status => status(&dir, out),
    }
}

fn chosen(only: &[String]) -> anyhow::Result<Vec<Service>> {
    if only.is_empty() {
        return Ok(Service::ALL.to_vec());
    }
    only.iter()
        .map(|key| {
            Service::from_key(key.trim()).with_context(|| {
                let names: Vec<&str> = Service::ALL.iter().map(|s| s.key()).collect();
                format!(
                    "no service named {key:?}; the services are {}",
                    names.join(", ")
                )
            })
        })
        .collect()
}

fn up(
    workspace: &Workspace,
    dir: &Path,
    wanted: &[Service],
    install_kafka: bool,
    force_local: bool,
    force_docker: bool,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let explicit = wanted.len() < Service::ALL.len();
    let mut endpoints = LabServices::load(dir);
    let mut to_start = Vec::new();
    for service in wanted {
        match Instance::load(dir, *service)? {
            Some(instance) if is_up(&instance, *service) => {
                writeln!(out, "  {service:9} already up at {}", instance.url)?;
                endpoints.set(*service, instance.url);
            }
            Some(stale) => {
                // Recorded but gone (a reboot, a `docker compose down` by hand):
                // clear what is left of it and start afresh.
                if stale.how == How::Local {
                    let _ = local::stop(&stale);
                }
                to_start.push(*service);
            }
            None => to_start.push(*service),
        }
    }
    let use_docker = force_docker || (!force_local && compose::docker_answers());
    if force_docker && !compose::docker_answers() {
        bail!("--docker: Docker does not answer `docker info` within 5 s");
    }
    let mut failed = false;
    if use_docker && !to_start.is_empty() {
        let bar = spinner(&format!(
            "docker compose up {} (waiting for health, up to {}s)",
            keys(&to_start),
            compose::WAIT_TIMEOUT.as_secs()
        ));
        let file = workspace.root.join("docker/compose.yml");
        let started = compose::up(&file, &to_start);
        bar.finish_and_clear();
        // Recorded even when compose failed part-way: `down` must be able to
        // remove whatever containers did start.
        for instance in compose::instances(&file, &to_start) {
            let service = Service::from_key(&instance.service).context("compose service")?;
            instance.save(dir, service)?;
            if started.is_ok() {
                writeln!(out, "  {service:9} up at {} (docker compose)", instance.url)?;
                endpoints.set(service, instance.url);
            }
        }
        if let Err(e) = started {
            writeln!(
                out,
                "  docker compose FAILED: {e:#}\n  (`cargo lab services down` removes what it started)"
            )?;
            failed = true;
        }
    } else {
        for service in to_start {
            if service == Service::Kafka && local::tansu_binary().is_none() {
                if install_kafka {
                    install_tansu()?;
                } else {
                    writeln!(
                        out,
                        "  Kafka     not started: it comes from tansu, which is not installed. \
                         Install it (about 20 minutes of compiling) with\n              \
                         {}\n            or run `cargo lab services up --install-kafka`.",
                        local::TANSU_INSTALL
                    )?;
                    failed |= explicit;
                    continue;
                }
            }
            // Like Kafka without tansu: a machine without MariaDB's server is
            // told what to install, and the other services still start.
            if service == Service::Mysql && local::mariadb_binaries().is_none() {
                writeln!(out, "  MariaDB   not started: {}", local::MARIADB_MISSING)?;
                failed |= explicit;
                continue;
            }
            let bar = spinner(&format!("starting {service}"));
            let started = Instant::now();
            let result = local::start(service, dir, &|message| {
                bar.set_message(message.to_string())
            });
            bar.finish_and_clear();
            match result {
                Ok(instance) => {
                    instance.save(dir, service)?;
                    writeln!(
                        out,
                        "  {service:9} up at {} in {:.1}s (pid {}, log {})",
                        instance.url,
                        started.elapsed().as_secs_f64(),
                        instance.pid.map_or("?".to_string(), |p| p.to_string()),
                        instance.log.display()
                    )?;
                    endpoints.set(service, instance.url);
                }
                Err(e) => {
                    writeln!(out, "  {service:9} FAILED to start: {e:#}")?;
                    failed = true;
                }
            }
        }
    }
    endpoints
        .save()
        .with_context(|| format!("writing {}", endpoints.file().display()))?;
    writeln!(
        out,
        "\nThe tests now find these with nothing exported (addresses in {}).\n\
         A LAB_* variable you export still wins. `cargo lab services down` stops them.",
        endpoints.file().display()
    )?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn down(
    workspace: &Workspace,
    dir: &Path,
    wanted: &[Service],
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let mut endpoints = LabServices::load(dir);
    let mut compose_services = Vec::new();
    let mut failed = false;
    for service in wanted {
        let Some(instance) = Instance::load(dir, *service)? else {
            writeln!(out, "  {service:9} nothing of the lab's running")?;
            endpoints.remove(*service);
            continue;
        };
        match instance.how {
            How::Compose => compose_services.push(*service),
            How::Local => {
                let was_running = instance.running();
                // One service failing to stop must not leave the others running.
                match local::stop(&instance) {
                    Ok(()) => {
                        writeln!(
                            out,
                            "  {service:9} {} ({})",
                            if was_running {
                                "stopped"
                            } else {
                                "was not running; record removed"
                            },
                            instance.url
                        )?;
                        remove_record(dir, *service)?;
                        endpoints.remove(*service);
                    }
                    Err(e) => {
                        writeln!(out, "  {service:9} FAILED to stop: {e:#}")?;
                        failed = true;
                    }
                }
            }
        }
    }
    if !compose_services.is_empty() {
        match compose::down(
            &workspace.root.join("docker/compose.yml"),
            &compose_services,
        ) {
            Ok(()) => {
                for service in &compose_services {
                    remove_record(dir, *service)?;
                    endpoints.remove(*service);
                }
                writeln!(out, "  docker compose: removed {}", keys(&compose_services))?;
            }
            Err(e) => {
                writeln!(out, "  docker compose FAILED to remove them: {e:#}")?;
                failed = true;
            }
        }
    }
    endpoints.save()?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Is a recorded service still up: its process alive, or (compose) answering?
fn is_up(instance: &Instance, service: Service) -> bool {
    match instance.how {
        How::Local => instance.running(),
        How::Compose => services::answers(&labkit_locate::Located {
            service,
            url: instance.url.clone(),
            origin: labkit_locate::Origin::DefaultPort,
        })
        .is_answering(),
    }
}

fn remove_record(dir: &Path, service: Service) -> anyhow::Result<()> {
    let record = Instance::dir(dir, service);
    match std::fs::remove_dir_all(&record) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", record.display()))
        }
        _ => Ok(()),
    }
}

fn status(dir: &Path, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let sources = Sources::from_process().with_lab_services(LabServices::load(dir));
    let docker = services::docker_socket_present();
    writeln!(out, "Where the tests will find each service:")?;
    // Not finding a service is news, not a failure (a Redis-only learner has
    // no Kafka); one that was found and does not answer is.
    let mut all_answer = true;
    for status in services::statuses(&sources) {
        all_answer &=
            status.found.is_ok() && status.answers.as_ref().is_none_or(Health::is_answering);
        writeln!(out, "  {:9} {}", status.service.name(), status.line(docker))?;
    }
    writeln!(
        out,
        "\nStarted by `cargo lab services up` ({}):",
        dir.display()
    )?;
    let mut any = false;
    for service in Service::ALL {
        let Some(instance) = Instance::load(dir, service)? else {
            continue;
        };
        any = true;
        let state = match instance.how {
            How::Compose => "docker compose".to_string(),
            How::Local if instance.running() => format!(
                "running, pid {}{}",
                instance.pid.unwrap_or_default(),
                instance
                    .run_as
                    .as_ref()
                    .map_or(String::new(), |u| format!(" as {u}"))
            ),
            How::Local => "NOT running (run `cargo lab services up` again)".to_string(),
        };
        writeln!(
            out,
            "  {:9} {}  {state}  log {}",
            service.name(),
            instance.url,
            instance.log.display()
        )?;
    }
    if !any {
        writeln!(out, "  nothing")?;
    }
    Ok(if all_answer {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn keys(services: &[Service]) -> String {
    services
        .iter()
        .map(|s| s.key())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `cargo install tansu …` with a spinner showing what it compiles; bounded.
fn install_tansu() -> anyhow::Result<()> {
    const LIMIT: Duration = Duration::from_secs(60 * 60);
    let bar = spinner(&format!("{} (about 20 minutes)", local::TANSU_INSTALL));
    let mut args: Vec<&str> = local::TANSU_INSTALL.split_whitespace().collect();
    let program = args.remove(0);
    let mut child = Command::new(program)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("running cargo install tansu")?;
    let stderr = child.stderr.take().context("cargo's stderr")?;
    // cargo's lines arrive on a thread, so the deadline holds even when it is silent.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + LIMIT;
    let mut last = Vec::new();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "installing tansu took over {} minutes; stopped",
                LIMIT.as_secs() / 60
            );
        }
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
            bar.set_message(format!("installing tansu: {}", line.trim()));
            last.push(line);
            if last.len() > 20 {
                last.remove(0);
            }
        }
    };
    bar.finish_and_clear();
    last.extend(rx.try_iter());
    if !status.success() {
        bail!("`{}` failed:\n{}", local::TANSU_INSTALL, last.join("\n"));
    }
    Ok(())
}
